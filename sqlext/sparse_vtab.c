/* sparse_vtab.c: the silt_sparse virtual table, a learned-sparse (SPLADE) inverted index that
 * is transactional, incremental and coherent across connections.
 *
 *   .load ./build/silt
 *   CREATE VIRTUAL TABLE doc_sp USING silt_sparse(model=splade);
 *   INSERT INTO doc_sp(rowid, content) SELECT id, body FROM docs;          -- encoded
 *   INSERT INTO doc_sp(rowid, terms) VALUES (7, '{"apple": 1.3, "fruit": 0.4}');
 *   SELECT rowid, score FROM doc_sp WHERE content MATCH 'query text' AND k = 10;
 *   SELECT rowid, score FROM doc_sp WHERE terms MATCH '{"apple": 1.0}' AND k = 10;
 *   SELECT rowid, score FROM doc_sp WHERE terms MATCH :q AND k = 10 AND exact = 1;
 *   SELECT rowid, score FROM doc_sp WHERE terms MATCH :q AND k = 10
 *      AND rowid IN (SELECT id FROM docs WHERE year >= 2020);              -- filtered
 *   INSERT INTO doc_sp(doc_sp) VALUES ('optimize');    -- or 'rebuild', 'integrity-check'
 *
 *   CREATE VIRTUAL TABLE ids USING silt_sparse;                            -- no model:
 *   INSERT INTO ids(rowid, terms) VALUES (1, '{"2054": 0.8, "7592": 1.1}');  -- term ids only
 *
 * Options: model = a sparse model name (silt_model_register(..., '{"kind":"sparse"}')): it
 * encodes content and maps token strings of JSON terms to ids; block_docs (1..256, default
 * 64: documents per posting block), prune ((0, 1], default 0.02: each term's list keeps
 * max(prune x rows, 256) strongest postings for the fast search; 1 = no pruning; changes
 * apply at the next 'rebuild'/'optimize' of old segments), heap_factor ((0, 1], default 0.6:
 * lower rescores more candidates, slower and closer to exact) and query_terms (>= 0, default
 * 0 = all: only the heaviest query_terms query terms admit candidates): the fast search's
 * defaults, which the hidden columns of the same names override per query; block_max (0 or
 * (0, 1], default 0 = off): the fast search is Block-Max Pruning instead, scoring blocks of
 * 4 documents, and in them single documents, while block_max x their score bound reaches
 * the k-th best (1: exact answer; index/sparse_index.h), except in queries that set
 * heap_factor or query_terms.
 * Columns: terms (sparse BLOB: core/sparse_vec.h; accepts the BLOB or JSON
 * {"token or id": weight}), content (TEXT), and hidden: score (dot product, highest first),
 * k (rows wanted; default: every row sharing a term), exact (1: exhaustive search),
 * heap_factor, query_terms and block_max (fast-search knobs for one query; a query setting
 * heap_factor or query_terms and not block_max uses the term-at-a-time search), and one named
 * like the table for commands. Only rows sharing at least one term with the query are returned.
 *
 * Storage (sqlext/store.h): <t>_data(id INTEGER PRIMARY KEY, terms BLOB, content TEXT) is the
 * truth; <t>_info, <t>_log and <t>_snapshot belong to the store. The inverted index lives in
 * memory (index/sparse_index.h) and follows the truth through the store. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/embed.h"
#include "core/sparse_vec.h"
#include "index/sparse_index.h"
#include "sqlext/models.h"
#include "sqlext/register.h"
#include "sqlext/store.h"

#define COL_TERMS 0
#define COL_CONTENT 1
#define COL_SCORE 2
#define COL_K 3
#define COL_EXACT 4
#define COL_HEAP_FACTOR 5
#define COL_QUERY_TERMS 6
#define COL_BLOCK_MAX 7
#define COL_COMMAND 8

/* Texts encoded per model call when draining the queue (each yields vocabulary-size floats). */
#define EMBED_CHUNK 16
/* Defaults of the options. */
#define DEFAULT_PRUNE 0.02
#define DEFAULT_HEAP_FACTOR 0.6

/* Statements on <t>_data, prepared on first use. */
enum {
    D_INSERT,
    D_REPLACE,
    D_DELETE,
    D_GET,
    D_EXISTS,
    D_ALL,
    D_SET_TERMS,
    D_UPDATE, /* + 0..3: bit 0 sets terms, bit 1 sets content */
    N_DATA_QUERIES = D_UPDATE + 4
};

static const char *const data_sql[N_DATA_QUERIES] = {
    [D_INSERT] = "INSERT INTO \"%w\".\"%w_data\"(id, terms, content) VALUES (?1, ?2, ?3)",
    [D_REPLACE] = "INSERT OR REPLACE INTO \"%w\".\"%w_data\"(id, terms, content) VALUES (?1, ?2, ?3)",
    [D_DELETE] = "DELETE FROM \"%w\".\"%w_data\" WHERE id = ?1",
    [D_GET] = "SELECT terms, content FROM \"%w\".\"%w_data\" WHERE id = ?1",
    [D_EXISTS] = "SELECT 1 FROM \"%w\".\"%w_data\" WHERE id = ?1",
    [D_ALL] = "SELECT id, terms, content FROM \"%w\".\"%w_data\" ORDER BY id",
    [D_SET_TERMS] = "UPDATE \"%w\".\"%w_data\" SET terms = ?2 WHERE id = ?1",
    [D_UPDATE + 0] = "UPDATE \"%w\".\"%w_data\" SET id = ?2 WHERE id = ?1",
    [D_UPDATE + 1] = "UPDATE \"%w\".\"%w_data\" SET id = ?2, terms = ?3 WHERE id = ?1",
    [D_UPDATE + 2] = "UPDATE \"%w\".\"%w_data\" SET id = ?2, content = ?4 WHERE id = ?1",
    [D_UPDATE + 3] = "UPDATE \"%w\".\"%w_data\" SET id = ?2, terms = ?3, content = ?4 WHERE id = ?1",
};

/* DDL options. */
typedef struct {
    char *model;             /* model name or NULL, sqlite3_malloc'd */
    silt_spidx_config cfg;   /* block_docs, prune (memtable_docs: the index default) */
    double heap_factor;      /* default of the hidden column */
    sqlite3_int64 query_terms; /* default of the hidden column */
    double block_max;        /* 0, or the fast search's Block-Max Pruning alpha */
} sparse_options;

typedef struct {
    sqlite3_int64 *v;        /* rowids, sqlite3_malloc'd */
    size_t n, cap;
} rowid_list;

typedef struct sparse_vtab {
    sqlite3_vtab base;       /* base class: zErrMsg carries errors back to SQLite */
    sqlite3 *db;             /* connection this instance belongs to */
    char *schema;            /* database name holding the table */
    char *name;              /* table name; shadow tables are <name>_<role> */
    sparse_options opt;      /* parsed DDL options */
    silt_spidx *index;       /* derived index; rebuilt by the store's callbacks */
    silt_store *store;       /* snapshot, log, transactions (sqlext/store.h) */
    sqlite3_stmt *dq[N_DATA_QUERIES]; /* statements on <name>_data */
    silt_encoder *enc;       /* the model, acquired on first use; NULL without one */
    rowid_list embed_queue;  /* rowids whose content awaits encoding */
} sparse_vtab;

/* Plans (idxNum); idxStr lists each argument's role in argv order: v terms query, t content
 * query, k k, x exact, h heap_factor, q query_terms, b block_max, L limit, O offset, = rowid,
 * I rowid IN
 * list, > < g l rowid bounds (gt, lt, ge, le). */
enum { PLAN_SCAN = 0, PLAN_MATCH = 1 };

typedef struct sparse_cursor {
    sqlite3_vtab_cursor base; /* base class */
    int plan;                 /* PLAN_SCAN or PLAN_MATCH */
    silt_spidx_hit *hits;     /* PLAN_MATCH: results, best first (malloc'd) */
    uint32_t n_hits, pos;     /* PLAN_MATCH: count and current */
    sqlite3_value *k, *exact, *heap_factor, *query_terms, *block_max; /* echoed hidden values */
    sqlite3_stmt *scan;       /* PLAN_SCAN: rows of <name>_data by rowid, per cursor */
    int eof;                  /* no current row */
} sparse_cursor;

/* ---- small helpers --------------------------------------------------------------------- */

/* Replaces the table's error message with "silt_sparse: <formatted>". Returns SQLITE_ERROR. */
static int vt_error(sparse_vtab *vt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int vt_error(sparse_vtab *vt, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *m = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    sqlite3_free(vt->base.zErrMsg);
    vt->base.zErrMsg = m ? sqlite3_mprintf("silt_sparse: %s", m) : NULL;
    sqlite3_free(m);
    return SQLITE_ERROR;
}

/* Moves an sqlite3_mprintf'd message into the table's error; returns rc. */
static int vt_take_error(sparse_vtab *vt, int rc, char *msg) {
    if (rc == SQLITE_NOMEM && !msg) return rc;
    vt_error(vt, "%s", msg ? msg : "out of memory");
    sqlite3_free(msg);
    return rc;
}

/* Moves a malloc'd core/index message into the table's error; returns rc. */
static int vt_core_error(sparse_vtab *vt, int rc, const char *prefix, char *msg) {
    if (prefix) vt_error(vt, "%s: %s", prefix, msg ? msg : "out of memory");
    else vt_error(vt, "%s", msg ? msg : "out of memory");
    free(msg);
    return rc;
}

/* An sqlite3_mprintf'd copy of the table's message without the prefix (for store callbacks,
 * whose *err gets the prefix again). */
static char *vt_message(sparse_vtab *vt, const char *dflt) {
    const char *m = vt->base.zErrMsg;
    if (m && !strncmp(m, "silt_sparse: ", 13)) m += 13;
    return sqlite3_mprintf("%s", m ? m : dflt);
}

/* Moves a malloc'd core message into an sqlite3_mprintf'd *err (store callbacks). */
static int core_error(char **err, char *msg, int rc) {
    *err = sqlite3_mprintf("%s", msg ? msg : "out of memory");
    free(msg);
    return rc;
}

static int list_push(rowid_list *l, sqlite3_int64 x) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        sqlite3_int64 *v = sqlite3_realloc64(l->v, cap * sizeof *v);
        if (!v) return SQLITE_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return SQLITE_OK;
}

static int cmp_i64(const void *a, const void *b) {
    sqlite3_int64 x = *(const sqlite3_int64 *)a, y = *(const sqlite3_int64 *)b;
    return x < y ? -1 : x > y;
}

/* Sorts a list and drops repeats. */
static void list_sort_unique(rowid_list *l) {
    if (l->n < 2) return;
    qsort(l->v, l->n, sizeof *l->v, cmp_i64);
    size_t k = 1;
    for (size_t i = 1; i < l->n; i++)
        if (l->v[i] != l->v[k - 1]) l->v[k++] = l->v[i];
    l->n = k;
}

/* Statement i on <name>_data, reset and unbound; NULL on failure (error set). */
static sqlite3_stmt *data_query(sparse_vtab *vt, int i) {
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

static void finalize_data_queries(sparse_vtab *vt) {
    for (int i = 0; i < N_DATA_QUERIES; i++) {
        sqlite3_finalize(vt->dq[i]);
        vt->dq[i] = NULL;
    }
}

/* The integer v holds exactly (INTEGER, a REAL without fraction, or text reading as one). */
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

/* How a value is shown in messages. */
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

/* ---- the model --------------------------------------------------------------------------- */

/* Acquires the table's model on first use and checks that it is a sparse one. */
static int need_model(sparse_vtab *vt, const char *why) {
    if (vt->enc) return SQLITE_OK;
    if (!vt->opt.model)
        return vt_error(vt, "%s needs a model: create the table with model=<a sparse model>, "
                        "e.g. USING silt_sparse(model=splade)", why);
    char *err = NULL;
    silt_encoder *enc = NULL;
    int rc = silt_model_acquire(vt->db, vt->opt.model, &enc, &err);
    if (rc != SQLITE_OK) {
        vt_error(vt, "model '%s': %s", vt->opt.model, err ? err : "cannot be loaded");
        sqlite3_free(err);
        return rc;
    }
    if (enc->kind != SILT_KIND_SPARSE) {
        vt_error(vt, "model '%s' is a %s model; silt_sparse needs a sparse one (registered with "
                 "'{\"kind\":\"sparse\"}')", vt->opt.model, silt_model_kind_name(enc));
        silt_model_release(enc);
        return SQLITE_ERROR;
    }
    vt->enc = enc;
    return SQLITE_OK;
}

static int32_t term_id_cb(void *ctx, const char *tok, size_t len) {
    const silt_encoder *enc = ctx;
    return enc->ops->token_id ? enc->ops->token_id(enc, tok, len) : -1;
}

/* Looks at the keys of a JSON object text: returns 1 when one is not all digits (a token
 * string), and sets *negative to the first key that reads as a negative integer (NULL when
 * none; it points into t and runs to the closing quote). A cheap scan, not a parser: it only
 * decides whether to load the model and sharpens one message; the parser has the last word. */
static int json_has_token_keys(const char *t, const char **negative) {
    int tokens = 0;
    *negative = NULL;
    for (const char *p = t; *p; p++) {
        if (*p != '"') continue;
        const char *q = ++p;
        int digits = 1;
        while (*p && *p != '"') {
            if (*p == '\\' && p[1]) p++;
            if ((*p < '0' || *p > '9') && !(p == q && *p == '-')) digits = 0;
            p++;
        }
        if (!*p) break;
        const char *r = p + 1;
        while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r') r++;
        if (*r != ':') continue;
        if (digits && *q == '-' && p > q + 1 && !*negative) *negative = q;
        else if (!digits || p == q || *q == '-') tokens = 1;
    }
    return tokens;
}

/* Reads a sparse vector from v (sparse BLOB or JSON object text) into out. what names the
 * value in messages. Token-string keys need the model. */
static int read_sparse(sparse_vtab *vt, sqlite3_value *v, const char *what, silt_sparse_vec *out) {
    char *err = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if (sqlite3_value_type(v) == SQLITE_BLOB) {
        rc = silt_sparse_decode(sqlite3_value_blob(v), (size_t)sqlite3_value_bytes(v), out, &err);
    } else if (sqlite3_value_type(v) == SQLITE_TEXT) {
        const char *t = (const char *)sqlite3_value_text(v);
        if (!t) return SQLITE_NOMEM;
        const char *neg;
        int tokens = json_has_token_keys(t, &neg);
        if (neg)
            return vt_error(vt, "%s: term id %.*s is negative (term ids are integers >= 0)", what,
                            (int)strcspn(neg, "\""), neg);
        if (vt->opt.model && tokens) {
            int r = need_model(vt, "a token string");
            if (r != SQLITE_OK) return r;
        }
        rc = silt_sparse_from_json(t, (size_t)sqlite3_value_bytes(v), vt->enc ? term_id_cb : NULL,
                                   vt->enc, out, &err);
        if (rc && !vt->opt.model && err && strstr(err, "model")) {
            /* The core message says a model is needed; say how to give this table one. */
            vt_error(vt, "%s: %s (this table has no model: create it with model=<a sparse "
                     "model> to use token strings, or give term ids)", what, err);
            free(err);
            return SQLITE_ERROR;
        }
    } else {
        char *d = describe_value(v);
        vt_error(vt, "%s must be a sparse BLOB or a JSON object such as '{\"2054\": 0.8}', got %s",
                 what, d ? d : "?");
        sqlite3_free(d);
        return SQLITE_MISMATCH;
    }
    if (rc) return vt_core_error(vt, SQLITE_ERROR, what, err);
    return SQLITE_OK;
}

/* Encodes one text with the model into out. */
static int encode_text(sparse_vtab *vt, const char *text, size_t len, silt_sparse_vec *out) {
    int rc = need_model(vt, "content");
    if (rc != SQLITE_OK) return rc;
    float *w = malloc((size_t)vt->enc->dim * sizeof *w);
    if (!w) return SQLITE_NOMEM;
    char *err = NULL;
    if (silt_embed_texts(vt->enc, &text, &len, 1, 1, w, &err) ||
        silt_sparse_from_dense(w, vt->enc->dim, out, &err)) {
        free(w);
        return vt_core_error(vt, SQLITE_ERROR, "encoding content", err);
    }
    free(w);
    return SQLITE_OK;
}

/* Encodes the queued contents (rows whose terms are NULL), writes the terms to the truth and
 * adds them to the index, EMBED_CHUNK texts per model call. */
static int embed_queued(sparse_vtab *vt) {
    if (!vt->embed_queue.n) return SQLITE_OK;
    int rc = need_model(vt, "content");
    if (rc != SQLITE_OK) return rc;
    list_sort_unique(&vt->embed_queue);
    size_t dim = (size_t)vt->enc->dim, n = vt->embed_queue.n;
    char *texts[EMBED_CHUNK];
    size_t lens[EMBED_CHUNK];
    sqlite3_int64 rows[EMBED_CHUNK];
    float *out = malloc(EMBED_CHUNK * dim * sizeof *out);
    if (!out) return SQLITE_NOMEM;
    for (size_t i = 0; rc == SQLITE_OK && i < n;) {
        int m = 0;
        for (; rc == SQLITE_OK && i < n && m < EMBED_CHUNK; i++) {
            sqlite3_stmt *s = data_query(vt, D_GET);
            if (!s) {
                rc = SQLITE_ERROR;
                break;
            }
            sqlite3_bind_int64(s, 1, vt->embed_queue.v[i]);
            if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_NULL &&
                sqlite3_column_type(s, 1) == SQLITE_TEXT) {
                size_t len = (size_t)sqlite3_column_bytes(s, 1);
                texts[m] = sqlite3_malloc64(len + 1);
                if (!texts[m]) {
                    rc = SQLITE_NOMEM;
                } else {
                    memcpy(texts[m], sqlite3_column_text(s, 1), len + 1);
                    lens[m] = len;
                    rows[m++] = vt->embed_queue.v[i];
                }
            }
            sqlite3_reset(s);
        }
        char *err = NULL;
        if (rc == SQLITE_OK && m > 0 &&
            silt_embed_texts(vt->enc, (const char *const *)texts, lens, m, 1, out, &err))
            rc = vt_core_error(vt, SQLITE_ERROR, "encoding content", err);
        for (int j = 0; j < m; j++) {
            silt_sparse_vec sv = {0};
            void *blob = NULL;
            size_t n_bytes = 0;
            if (rc == SQLITE_OK && (silt_sparse_from_dense(out + (size_t)j * dim, (int)dim, &sv, &err) ||
                                    silt_sparse_encode(&sv, &blob, &n_bytes, &err)))
                rc = vt_core_error(vt, SQLITE_ERROR, "encoding content", err);
            sqlite3_stmt *s = rc == SQLITE_OK ? data_query(vt, D_SET_TERMS) : NULL;
            if (rc == SQLITE_OK && !s) rc = SQLITE_ERROR;
            if (rc == SQLITE_OK) {
                sqlite3_bind_int64(s, 1, rows[j]);
                sqlite3_bind_blob64(s, 2, blob, n_bytes, SQLITE_STATIC);
                if (sqlite3_step(s) != SQLITE_DONE) rc = vt_error(vt, "%s", sqlite3_errmsg(vt->db));
                sqlite3_reset(s);
            }
            if (rc == SQLITE_OK) {
                char *e2 = NULL;
                rc = silt_store_touch(vt->store, rows[j], &e2);
                if (rc != SQLITE_OK) vt_take_error(vt, rc, e2);
            }
            if (rc == SQLITE_OK) {
                silt_spidx_remove(vt->index, rows[j]);
                if (silt_spidx_add(vt->index, rows[j], &sv, &err)) rc = vt_core_error(vt, SQLITE_ERROR, NULL, err);
            }
            free(blob);
            silt_sparse_vec_free(&sv);
            sqlite3_free(texts[j]);
        }
    }
    free(out);
    if (rc == SQLITE_OK) vt->embed_queue.n = 0;
    return rc;
}

/* ---- store callbacks (sqlext/store.h) ----------------------------------------------------- */

static int op_reset(void *owner, char **err) {
    sparse_vtab *vt = owner;
    char *msg = NULL;
    silt_spidx *ix = silt_spidx_new(&vt->opt.cfg, &msg);
    if (!ix) return core_error(err, msg, SQLITE_ERROR);
    silt_spidx_set_deferred(ix, 1);
    silt_spidx_free(vt->index);
    vt->index = ix;
    vt->embed_queue.n = 0;
    return SQLITE_OK;
}

static int op_load_snapshot(void *owner, const void *bytes, size_t n_bytes, char **err) {
    sparse_vtab *vt = owner;
    char *msg = NULL;
    silt_spidx *ix = silt_spidx_deserialize(bytes, n_bytes, &msg);
    if (!ix) return core_error(err, msg, SQLITE_CORRUPT);
    /* The DDL's build parameters win over the ones stored with the snapshot. */
    silt_spidx_set_config(ix, &vt->opt.cfg, NULL);
    silt_spidx_set_deferred(ix, 1);
    silt_spidx_free(vt->index);
    vt->index = ix;
    return SQLITE_OK;
}

static int op_save_snapshot(void *owner, void **bytes, size_t *n_bytes, char **err) {
    sparse_vtab *vt = owner;
    char *msg = NULL;
    if (silt_spidx_serialize(vt->index, bytes, n_bytes, &msg)) return core_error(err, msg, SQLITE_ERROR);
    return SQLITE_OK;
}

/* Makes the index agree with one truth row (terms, content), or drops the rowid when the row
 * is gone. A stored value that is not a valid sparse BLOB (edited by hand) stays out of the
 * index; integrity-check names it. */
static int derive_row(sparse_vtab *vt, sqlite3_int64 rowid, sqlite3_value *terms,
                      sqlite3_value *content, int has_row, char **err) {
    silt_spidx_remove(vt->index, rowid);
    if (!has_row) return SQLITE_OK;
    if (sqlite3_value_type(terms) == SQLITE_BLOB) {
        silt_sparse_vec sv;
        char *msg = NULL;
        if (silt_sparse_decode(sqlite3_value_blob(terms), (size_t)sqlite3_value_bytes(terms), &sv,
                               &msg)) {
            free(msg);
            return SQLITE_OK;
        }
        int r = silt_spidx_add(vt->index, rowid, &sv, &msg);
        silt_sparse_vec_free(&sv);
        if (r) return core_error(err, msg, SQLITE_ERROR);
    } else if (sqlite3_value_type(terms) == SQLITE_NULL && sqlite3_value_type(content) == SQLITE_TEXT &&
               vt->opt.model) {
        if (list_push(&vt->embed_queue, rowid)) return SQLITE_NOMEM;
    }
    return SQLITE_OK;
}

static int op_refresh(void *owner, const sqlite3_int64 *rowids, size_t n, char **err) {
    sparse_vtab *vt = owner;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *s = data_query(vt, D_GET);
        if (!s) {
            *err = vt_message(vt, "cannot read the table");
            return SQLITE_ERROR;
        }
        sqlite3_bind_int64(s, 1, rowids[i]);
        int step = sqlite3_step(s), rc;
        if (step == SQLITE_ROW || step == SQLITE_DONE) {
            rc = derive_row(vt, rowids[i], sqlite3_column_value(s, 0), sqlite3_column_value(s, 1),
                            step == SQLITE_ROW, err);
        } else {
            *err = sqlite3_mprintf("%s", sqlite3_errmsg(vt->db));
            rc = SQLITE_ERROR;
        }
        sqlite3_reset(s);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

/* Adds every stored row to the (empty) index, then merges it into one segment. */
static int load_all_rows(sparse_vtab *vt, char **err) {
    sqlite3_stmt *s = data_query(vt, D_ALL);
    if (!s) {
        *err = vt_message(vt, "cannot read the table");
        return SQLITE_ERROR;
    }
    /* Buffer everything in the memtable and build one segment at the end. */
    silt_spidx_config bulk = vt->opt.cfg;
    bulk.memtable_docs = 1u << 30;
    silt_spidx_set_config(vt->index, &bulk, NULL);
    int rc = SQLITE_OK, step;
    while (rc == SQLITE_OK && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = derive_row(vt, sqlite3_column_int64(s, 0), sqlite3_column_value(s, 1),
                        sqlite3_column_value(s, 2), 1, err);
    if (rc == SQLITE_OK && step != SQLITE_DONE) {
        *err = sqlite3_mprintf("%s", sqlite3_errmsg(vt->db));
        rc = SQLITE_ERROR;
    }
    sqlite3_reset(s);
    silt_spidx_set_config(vt->index, &vt->opt.cfg, NULL);
    char *msg = NULL;
    if (rc == SQLITE_OK && silt_spidx_optimize(vt->index, &msg)) rc = core_error(err, msg, SQLITE_ERROR);
    return rc;
}

static int op_rebuild(void *owner, char **err) {
    sparse_vtab *vt = owner;
    int rc = op_reset(owner, err);
    return rc == SQLITE_OK ? load_all_rows(vt, err) : rc;
}

static int op_before_commit(void *owner, char **err) {
    sparse_vtab *vt = owner;
    int rc = embed_queued(vt);
    if (rc != SQLITE_OK) {
        *err = vt_message(vt, "encoding failed");
        return rc;
    }
    /* The transaction's rows were only buffered (deferred mode): build their segment once. */
    char *msg = NULL;
    if (silt_spidx_flush(vt->index, &msg)) return core_error(err, msg, SQLITE_ERROR);
    return SQLITE_OK;
}

/* Snapshot once replaying the log at open would touch more than 1/8 of the rows (and at
 * least 1024 log rows, so that small commits stay small). */
static int op_snapshot_due(void *owner, sqlite3_int64 n_log) {
    sparse_vtab *vt = owner;
    return n_log >= 1024 && (uint64_t)n_log * 8 >= silt_spidx_count(vt->index);
}

static const silt_store_ops sparse_store_ops = {
    .reset = op_reset,
    .load_snapshot = op_load_snapshot,
    .save_snapshot = op_save_snapshot,
    .refresh = op_refresh,
    .rebuild = op_rebuild,
    .before_commit = op_before_commit,
    .snapshot_due = op_snapshot_due,
};

/* Brings the index up to date before use: other connections' commits, rolled-back rows,
 * then this transaction's queued texts (so that a query sees them). */
static int sparse_ready(sparse_vtab *vt) {
    char *err = NULL;
    int rc = silt_store_ensure(vt->store, &err);
    if (rc != SQLITE_OK) return vt_take_error(vt, rc, err);
    if (!vt->embed_queue.n) return SQLITE_OK;
    sqlite3_int64 last = sqlite3_last_insert_rowid(vt->db);
    rc = embed_queued(vt);
    sqlite3_set_last_insert_rowid(vt->db, last);
    return rc;
}

/* ---- options ------------------------------------------------------------------------------ */

/* An sqlite3_malloc'd copy of s[0..n) without surrounding blanks and one level of quotes. */
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

/* Parses a whole-string number; 0 on success. */
static int parse_num(const char *v, double *out) {
    char *end = NULL;
    double d = strtod(v, &end);
    if (!*v || *end || !isfinite(d)) return -1;
    *out = d;
    return 0;
}

static void free_options(sparse_options *o) {
    sqlite3_free(o->model);
    memset(o, 0, sizeof *o);
}

/* Parses the CREATE VIRTUAL TABLE arguments (argv[3..]) into o; on error SQLITE_ERROR with
 * *err naming the option and what was expected. */
static int parse_options(int argc, const char *const *argv, sparse_options *o, char **err) {
    enum { O_MODEL, O_BLOCK, O_PRUNE, O_HF, O_QT, O_BM, N_OPT };
    static const char *const names[N_OPT] = {"model", "block_docs", "prune", "heap_factor",
                                             "query_terms", "block_max"};
    int seen[N_OPT] = {0};
    memset(o, 0, sizeof *o);
    silt_spidx_config_default(&o->cfg);
    o->cfg.prune = (float)DEFAULT_PRUNE;
    o->heap_factor = DEFAULT_HEAP_FACTOR;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        char *key = dequote(a, eq ? (size_t)(eq - a) : strlen(a));
        char *val = eq ? dequote(eq + 1, strlen(eq + 1)) : NULL;
        int rc = SQLITE_OK, which = -1;
        double d = 0;
        if (!key || (eq && !val)) {
            rc = SQLITE_NOMEM;
        } else if (!eq || !*key) {
            *err = sqlite3_mprintf("silt_sparse: option '%s' must look like name=value", a);
            rc = SQLITE_ERROR;
        } else {
            for (int j = 0; j < N_OPT; j++)
                if (!sqlite3_stricmp(key, names[j])) which = j;
            if (which < 0) {
                *err = sqlite3_mprintf("silt_sparse: unknown option '%s' (expected model, "
                                       "block_docs, prune, heap_factor, query_terms or block_max)",
                                       key);
                rc = SQLITE_ERROR;
            } else if (seen[which]++) {
                *err = sqlite3_mprintf("silt_sparse: option '%s' is given twice", names[which]);
                rc = SQLITE_ERROR;
            } else if (which == O_MODEL) {
                if (!*val) {
                    *err = sqlite3_mprintf("silt_sparse: model must name a sparse model, got ''");
                    rc = SQLITE_ERROR;
                }
                o->model = val;
                val = NULL;
            } else if (which == O_BLOCK) {
                if (parse_num(val, &d) || d != floor(d) || d < 1 || d > 256) {
                    *err = sqlite3_mprintf("silt_sparse: block_docs must be an integer between 1 "
                                           "and 256, got '%s'", val);
                    rc = SQLITE_ERROR;
                } else {
                    o->cfg.block_docs = (uint32_t)d; /* only a checked value is converted */
                }
            } else if (which == O_PRUNE || which == O_HF) {
                if (parse_num(val, &d) || !(d > 0 && d <= 1)) {
                    *err = sqlite3_mprintf("silt_sparse: %s must be a number in (0, 1], got '%s'",
                                           names[which], val);
                    rc = SQLITE_ERROR;
                } else if (which == O_PRUNE) {
                    o->cfg.prune = (float)d;
                } else {
                    o->heap_factor = d;
                }
            } else if (which == O_BM) {
                if (parse_num(val, &d) || !(d >= 0 && d <= 1)) {
                    *err = sqlite3_mprintf("silt_sparse: block_max must be 0 (off) or a number in "
                                           "(0, 1], got '%s'", val);
                    rc = SQLITE_ERROR;
                } else {
                    o->block_max = d;
                }
            } else {
                if (parse_num(val, &d) || d != floor(d) || d < 0 || d > 1e9) {
                    *err = sqlite3_mprintf("silt_sparse: query_terms must be an integer >= 0 "
                                           "(0 = all), got '%s'", val);
                    rc = SQLITE_ERROR;
                } else {
                    o->query_terms = (sqlite3_int64)d;
                }
            }
        }
        sqlite3_free(key);
        sqlite3_free(val);
        if (rc != SQLITE_OK) {
            free_options(o);
            return rc;
        }
    }
    return SQLITE_OK;
}

/* ---- xCreate / xConnect ------------------------------------------------------------------- */

static void sparse_free(sparse_vtab *vt) {
    if (!vt) return;
    finalize_data_queries(vt);
    silt_store_close(vt->store);
    silt_spidx_free(vt->index);
    if (vt->enc) silt_model_release(vt->enc);
    free_options(&vt->opt);
    sqlite3_free(vt->embed_queue.v);
    sqlite3_free(vt->schema);
    sqlite3_free(vt->name);
    sqlite3_free(vt->base.zErrMsg);
    sqlite3_free(vt);
}

static int sparse_init(sqlite3 *db, void *aux, int argc, const char *const *argv,
                       sqlite3_vtab **out, char **err, int create) {
    (void)aux;
    sparse_vtab *vt = sqlite3_malloc(sizeof *vt);
    if (!vt) return SQLITE_NOMEM;
    memset(vt, 0, sizeof *vt);
    vt->db = db;
    int rc = parse_options(argc, argv, &vt->opt, err);
    if (rc != SQLITE_OK) {
        sqlite3_free(vt);
        return rc;
    }
    vt->schema = sqlite3_mprintf("%s", argv[1]);
    vt->name = sqlite3_mprintf("%s", argv[2]);
    char *msg = NULL;
    if (vt->schema && vt->name) vt->index = silt_spidx_new(&vt->opt.cfg, &msg);
    if (vt->index) silt_spidx_set_deferred(vt->index, 1);
    if (!vt->schema || !vt->name || !vt->index) {
        if (msg) *err = sqlite3_mprintf("silt_sparse: %s", msg);
        free(msg);
        sparse_free(vt);
        return msg ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    if (create && vt->opt.model) {
        /* Fail now, not at the first insert, when the model is missing or not sparse. */
        rc = need_model(vt, "content");
        if (rc != SQLITE_OK) {
            *err = sqlite3_mprintf("%s", vt->base.zErrMsg);
            sparse_free(vt);
            return rc;
        }
    }
    char *schema = sqlite3_mprintf("CREATE TABLE x(terms BLOB, content TEXT, score HIDDEN, "
                                   "k HIDDEN, exact HIDDEN, heap_factor HIDDEN, "
                                   "query_terms HIDDEN, block_max HIDDEN, \"%w\" HIDDEN)", argv[2]);
    rc = schema ? sqlite3_declare_vtab(db, schema) : SQLITE_NOMEM;
    sqlite3_free(schema);
    if (rc == SQLITE_OK) sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
    if (rc == SQLITE_OK && create) {
        char *sql = sqlite3_mprintf("CREATE TABLE \"%w\".\"%w_data\"(id INTEGER PRIMARY KEY, "
                                    "terms BLOB, content TEXT)", argv[1], argv[2]);
        rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (rc == SQLITE_OK) rc = silt_store_create(db, argv[1], argv[2], err);
        else *err = sqlite3_mprintf("silt_sparse: %s", sqlite3_errmsg(db));
    }
    if (rc == SQLITE_OK)
        rc = silt_store_open(db, argv[1], argv[2], &sparse_store_ops, vt, &vt->store, err);
    if (rc != SQLITE_OK) {
        sparse_free(vt);
        return rc;
    }
    *out = &vt->base;
    return SQLITE_OK;
}

static int sparse_create(sqlite3 *db, void *aux, int argc, const char *const *argv,
                         sqlite3_vtab **out, char **err) {
    return sparse_init(db, aux, argc, argv, out, err, 1);
}

static int sparse_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                          sqlite3_vtab **out, char **err) {
    return sparse_init(db, aux, argc, argv, out, err, 0);
}

/* ---- xBestIndex ----------------------------------------------------------------------------- */

static char range_role(int op) {
    return op == SQLITE_INDEX_CONSTRAINT_GT   ? '>'
           : op == SQLITE_INDEX_CONSTRAINT_GE ? 'g'
           : op == SQLITE_INDEX_CONSTRAINT_LT ? '<'
                                              : 'l';
}

static int sparse_best_index(sqlite3_vtab *tab, sqlite3_index_info *info) {
    (void)tab;
    int i_terms = -1, i_text = -1, i_k = -1, i_exact = -1, i_hf = -1, i_qt = -1, i_bm = -1;
    int i_limit = -1, i_offset = -1, i_eq = -1, i_range[4], n_range = 0;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        int *slot = NULL, needed = 1;
        if (c->op == SQLITE_INDEX_CONSTRAINT_MATCH && c->iColumn == COL_TERMS) slot = &i_terms;
        else if (c->op == SQLITE_INDEX_CONSTRAINT_MATCH && c->iColumn == COL_CONTENT) slot = &i_text;
        else if (c->op == SQLITE_INDEX_CONSTRAINT_EQ && c->iColumn == COL_K) slot = &i_k;
        else if (c->op == SQLITE_INDEX_CONSTRAINT_EQ && c->iColumn == COL_EXACT) slot = &i_exact;
        else if (c->op == SQLITE_INDEX_CONSTRAINT_EQ && c->iColumn == COL_HEAP_FACTOR) slot = &i_hf;
        else if (c->op == SQLITE_INDEX_CONSTRAINT_EQ && c->iColumn == COL_QUERY_TERMS) slot = &i_qt;
        else if (c->op == SQLITE_INDEX_CONSTRAINT_EQ && c->iColumn == COL_BLOCK_MAX) slot = &i_bm;
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
        /* A MATCH or knob whose value comes from a table joined later: reject this plan so
         * that SQLite puts that table first instead of scanning this one. */
        if (!c->usable) {
            if (needed) return SQLITE_CONSTRAINT;
            continue;
        }
        if (*slot < 0) *slot = i;
    }
    int match = i_terms >= 0 || i_text >= 0;
    char roles[24];
    int n = 0;
#define USE(i, role)                                                                           \
    do {                                                                                       \
        info->aConstraintUsage[i].argvIndex = ++n;                                             \
        info->aConstraintUsage[i].omit = 1;                                                    \
        roles[n - 1] = (role);                                                                 \
    } while (0)
    if (i_terms >= 0) USE(i_terms, 'v');
    if (i_text >= 0) USE(i_text, 't');
    if (i_k >= 0) USE(i_k, 'k');
    if (i_exact >= 0) USE(i_exact, 'x');
    if (i_hf >= 0) USE(i_hf, 'h');
    if (i_qt >= 0) USE(i_qt, 'q');
    if (i_bm >= 0) USE(i_bm, 'b');
    int by_score = info->nOrderBy == 1 && info->aOrderBy[0].iColumn == COL_SCORE &&
                   info->aOrderBy[0].desc;
    int by_rowid = info->nOrderBy == 1 && info->aOrderBy[0].iColumn == -1 && !info->aOrderBy[0].desc;
    if (match) {
        if (i_eq >= 0) {
            /* rowid IN (...) arrives as a whole list, the search's filter. */
            if (!sqlite3_vtab_in(info, i_eq, -1)) USE(i_eq, '=');
            else if (sqlite3_vtab_in(info, i_eq, 1)) USE(i_eq, 'I');
        }
        for (int j = 0; j < n_range; j++) USE(i_range[j], range_role(info->aConstraint[i_range[j]].op));
        /* LIMIT bounds the search only when rows come out in score order and no other
         * condition filters them afterwards; SQLite 3.40 pushes LIMIT only together with
         * OFFSET, so both are taken (OFFSET not omitted: SQLite skips those rows itself). */
        int all_used = 1;
        for (int i = 0; i < info->nConstraint; i++) {
            int op = info->aConstraint[i].op;
            if (op != SQLITE_INDEX_CONSTRAINT_LIMIT && op != SQLITE_INDEX_CONSTRAINT_OFFSET &&
                info->aConstraintUsage[i].argvIndex == 0)
                all_used = 0;
        }
        if (i_limit >= 0 && all_used && (by_score || info->nOrderBy == 0)) {
            USE(i_limit, 'L');
            if (i_offset >= 0) {
                USE(i_offset, 'O');
                info->aConstraintUsage[i_offset].omit = 0;
            }
        }
        info->idxNum = PLAN_MATCH;
        info->orderByConsumed = by_score;
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
        for (int j = 0; j < n_range; j++) USE(i_range[j], range_role(info->aConstraint[i_range[j]].op));
        info->idxNum = PLAN_SCAN;
        info->orderByConsumed = by_rowid;
    }
#undef USE
    info->idxStr = sqlite3_mprintf("%.*s", n, roles);
    if (!info->idxStr) return SQLITE_NOMEM;
    info->needToFreeIdxStr = 1;
    return SQLITE_OK;
}

/* ---- cursors ------------------------------------------------------------------------------ */

static int sparse_open(sqlite3_vtab *tab, sqlite3_vtab_cursor **out) {
    (void)tab;
    sparse_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    c->eof = 1;
    *out = &c->base;
    return SQLITE_OK;
}

static void cursor_reset(sparse_cursor *c) {
    free(c->hits);
    c->hits = NULL;
    c->n_hits = c->pos = 0;
    sqlite3_value_free(c->k), sqlite3_value_free(c->exact);
    sqlite3_value_free(c->heap_factor), sqlite3_value_free(c->query_terms);
    sqlite3_value_free(c->block_max);
    c->k = c->exact = c->heap_factor = c->query_terms = c->block_max = NULL;
    if (c->scan) sqlite3_reset(c->scan);
    c->eof = 1;
}

/* Narrows [*lo, *hi] by one rowid bound (> g < l) against v with SQLite's comparison rules
 * (numbers sort before text and BLOBs; NULL matches nothing). 0 when nothing can match. */
static int apply_bound(char op, sqlite3_value *v, sqlite3_int64 *lo, sqlite3_int64 *hi) {
    int t = sqlite3_value_numeric_type(v);
    if (t == SQLITE_NULL) return 0;
    if (t == SQLITE_TEXT || t == SQLITE_BLOB) return op == '<' || op == 'l';
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
        double d = sqlite3_value_double(v);
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

static int filter_scan(sparse_cursor *c, sparse_vtab *vt, const char *roles, sqlite3_value **argv) {
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
            return vt_error(vt, "%s applies only to a search (terms MATCH ... or content MATCH ...)",
                            r == 'k'   ? "k"
                            : r == 'x' ? "exact"
                            : r == 'h' ? "heap_factor"
                            : r == 'q' ? "query_terms"
                                       : "block_max");
        }
    }
    int rc = sparse_ready(vt);
    if (rc != SQLITE_OK) return rc;
    c->plan = PLAN_SCAN;
    if (!possible) return SQLITE_OK;
    if (!c->scan) {
        char *sql = sqlite3_mprintf("SELECT id, terms, content FROM \"%w\".\"%w_data\" "
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

static int filter_match(sparse_cursor *c, sparse_vtab *vt, const char *roles, sqlite3_value **argv) {
    silt_sparse_vec q = {0};
    int have_q = 0, have_k = 0, have_limit = 0, possible = 1, rc = SQLITE_OK;
    sqlite3_int64 k = 0, limit = -1, offset = 0, lo = INT64_MIN, hi = INT64_MAX, x;
    silt_spidx_search_opts so = {0, vt->opt.heap_factor, (uint32_t)vt->opt.query_terms,
                                 vt->opt.block_max};
    double bm_query = 0; /* block_max set by this query (have_bm) wins over heap_factor's reset */
    int have_bm = 0;
    sqlite3_value *text = NULL;
    rowid_list in = {0};
    for (int i = 0; rc == SQLITE_OK && roles[i]; i++) {
        sqlite3_value *v = argv[i];
        switch (roles[i]) {
        case 'v':
            if (have_q) silt_sparse_vec_free(&q);
            rc = read_sparse(vt, v, "terms MATCH: query", &q);
            have_q = rc == SQLITE_OK;
            break;
        case 't':
            text = v;
            break;
        case 'k':
            if (!exact_int(v, &k) || k < 0) {
                char *d = describe_value(v);
                rc = vt_error(vt, "k must be an integer >= 0, got %s", d ? d : "?");
                sqlite3_free(d);
            }
            have_k = 1;
            c->k = sqlite3_value_dup(v);
            break;
        case 'x':
            x = 0;
            if (!exact_int(v, &x) || (x != 0 && x != 1)) {
                char *d = describe_value(v);
                rc = vt_error(vt, "exact must be 0 or 1, got %s", d ? d : "?");
                sqlite3_free(d);
            }
            so.exact = x == 1;
            c->exact = sqlite3_value_dup(v);
            break;
        case 'h': {
            int t = sqlite3_value_numeric_type(v);
            double d = sqlite3_value_double(v);
            if ((t != SQLITE_INTEGER && t != SQLITE_FLOAT) || !(d > 0 && d <= 1)) {
                char *dv = describe_value(v);
                rc = vt_error(vt, "heap_factor must be a number in (0, 1], got %s", dv ? dv : "?");
                sqlite3_free(dv);
            }
            so.heap_factor = d;
            so.block_max = 0; /* a query setting the term-at-a-time knobs uses that search */
            c->heap_factor = sqlite3_value_dup(v);
            break;
        }
        case 'q':
            x = 0;
            if (!exact_int(v, &x) || x < 0 || x > UINT32_MAX) {
                char *d = describe_value(v);
                rc = vt_error(vt, "query_terms must be an integer >= 0 (0 = all), got %s", d ? d : "?");
                sqlite3_free(d);
            }
            so.query_terms = (uint32_t)x;
            so.block_max = 0;
            c->query_terms = sqlite3_value_dup(v);
            break;
        case 'b': {
            int t = sqlite3_value_numeric_type(v);
            double d = sqlite3_value_double(v);
            if ((t != SQLITE_INTEGER && t != SQLITE_FLOAT) || !(d >= 0 && d <= 1)) {
                char *dv = describe_value(v);
                rc = vt_error(vt, "block_max must be 0 (off) or a number in (0, 1], got %s", dv ? dv : "?");
                sqlite3_free(dv);
            }
            bm_query = d, have_bm = 1;
            c->block_max = sqlite3_value_dup(v);
            break;
        }
        case 'L':
            limit = sqlite3_value_int64(v);
            have_limit = limit >= 0;
            break;
        case 'O':
            offset = sqlite3_value_int64(v);
            if (offset < 0) offset = 0;
            break;
        case '=':
            if (exact_int(v, &x)) rc = list_push(&in, x);
            else possible = 0;
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
    if (have_bm) so.block_max = bm_query;
    if (rc == SQLITE_OK && have_q && text)
        rc = vt_error(vt, "use either terms MATCH or content MATCH, not both");
    if (rc == SQLITE_OK) rc = sparse_ready(vt);
    if (rc == SQLITE_OK) {
        /* Rows buffered by catch-up or by this transaction get their segment before the
         * search, once there are enough of them (no-op otherwise). */
        char *msg = NULL;
        if (silt_spidx_flush(vt->index, &msg)) rc = vt_core_error(vt, SQLITE_ERROR, NULL, msg);
    }
    if (rc == SQLITE_OK && text) {
        if (sqlite3_value_type(text) != SQLITE_TEXT) {
            char *d = describe_value(text);
            rc = vt_error(vt, "content MATCH expects a query text, got %s", d ? d : "?");
            sqlite3_free(d);
        } else {
            rc = encode_text(vt, (const char *)sqlite3_value_text(text),
                             (size_t)sqlite3_value_bytes(text), &q);
            have_q = rc == SQLITE_OK;
        }
    }
    c->plan = PLAN_MATCH;
    c->eof = 1;
    if (rc == SQLITE_OK && possible && have_q) {
        /* Rows wanted: k, or LIMIT + OFFSET when SQLite pushed them down; else every row
         * that shares a term. */
        sqlite3_int64 want = have_k ? k : INT64_MAX;
        if (have_limit) {
            sqlite3_int64 lim = limit > INT64_MAX - offset ? INT64_MAX : limit + offset;
            if (lim < want) want = lim;
        }
        if (want > UINT32_MAX) want = UINT32_MAX;
        list_sort_unique(&in);
        static const int64_t none[1] = {0};
        silt_spidx_filter f = {has_in ? (in.v ? (const int64_t *)in.v : none) : NULL, in.n, lo, hi};
        char *err = NULL;
        if (silt_spidx_search(vt->index, &q, (uint32_t)want, &so, &f, &c->hits, &c->n_hits, &err))
            rc = vt_core_error(vt, SQLITE_ERROR, NULL, err);
        c->eof = c->n_hits == 0;
    }
    silt_sparse_vec_free(&q);
    sqlite3_free(in.v);
    return rc;
}

static int sparse_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                         sqlite3_value **argv) {
    (void)argc;
    sparse_cursor *c = (sparse_cursor *)cur;
    sparse_vtab *vt = (sparse_vtab *)cur->pVtab;
    cursor_reset(c);
    const char *roles = idx_str ? idx_str : "";
    return idx_num == PLAN_MATCH ? filter_match(c, vt, roles, argv) : filter_scan(c, vt, roles, argv);
}

static int sparse_next(sqlite3_vtab_cursor *cur) {
    sparse_cursor *c = (sparse_cursor *)cur;
    if (c->plan == PLAN_MATCH) {
        if (++c->pos >= c->n_hits) c->eof = 1;
        return SQLITE_OK;
    }
    int rc = sqlite3_step(c->scan);
    if (rc == SQLITE_ROW) return SQLITE_OK;
    c->eof = 1;
    if (rc == SQLITE_DONE) return SQLITE_OK;
    return vt_error((sparse_vtab *)cur->pVtab, "%s", sqlite3_errmsg(((sparse_vtab *)cur->pVtab)->db));
}

static int sparse_eof(sqlite3_vtab_cursor *cur) { return ((sparse_cursor *)cur)->eof; }

static sqlite3_int64 cursor_rowid(sparse_cursor *c) {
    return c->plan == PLAN_MATCH ? c->hits[c->pos].rowid : sqlite3_column_int64(c->scan, 0);
}

/* terms (which 0) or content (1) of the current row, from the truth. */
static int stored_column(sparse_cursor *c, sparse_vtab *vt, sqlite3_context *ctx, int which) {
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

static int sparse_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
    sparse_cursor *c = (sparse_cursor *)cur;
    sparse_vtab *vt = (sparse_vtab *)cur->pVtab;
    /* An UPDATE that leaves terms or content alone need not read them. */
    if (sqlite3_vtab_nochange(ctx) && (col == COL_TERMS || col == COL_CONTENT)) return SQLITE_OK;
    if (col == COL_TERMS) return stored_column(c, vt, ctx, 0);
    if (col == COL_CONTENT) return stored_column(c, vt, ctx, 1);
    if (c->plan != PLAN_MATCH) return SQLITE_OK; /* hidden columns are NULL in scans */
    if (col == COL_SCORE) sqlite3_result_double(ctx, c->hits[c->pos].score);
    else if (col == COL_K && c->k) sqlite3_result_value(ctx, c->k);
    else if (col == COL_EXACT && c->exact) sqlite3_result_value(ctx, c->exact);
    else if (col == COL_HEAP_FACTOR && c->heap_factor) sqlite3_result_value(ctx, c->heap_factor);
    else if (col == COL_QUERY_TERMS && c->query_terms) sqlite3_result_value(ctx, c->query_terms);
    else if (col == COL_BLOCK_MAX && c->block_max) sqlite3_result_value(ctx, c->block_max);
    return SQLITE_OK;
}

static int sparse_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
    *rowid = cursor_rowid((sparse_cursor *)cur);
    return SQLITE_OK;
}

static int sparse_close(sqlite3_vtab_cursor *cur) {
    sparse_cursor *c = (sparse_cursor *)cur;
    cursor_reset(c);
    sqlite3_finalize(c->scan);
    sqlite3_free(c);
    return SQLITE_OK;
}

/* ---- commands ------------------------------------------------------------------------------ */

/* integrity-check: every stored row is in the index with the same terms, nothing else is, and
 * the stored snapshot is intact. */
static int integrity_check(sparse_vtab *vt) {
    int rc = sparse_ready(vt);
    if (rc != SQLITE_OK) return rc;
    sqlite3_stmt *s = data_query(vt, D_ALL);
    if (!s) return SQLITE_ERROR;
    sqlite3_int64 n_rows = 0;
    char *problem = NULL, *msg = NULL;
    while (!problem && sqlite3_step(s) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(s, 0);
        silt_sparse_vec want, got;
        if (sqlite3_column_type(s, 1) != SQLITE_BLOB ||
            silt_sparse_decode(sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1), &want,
                               &msg)) {
            problem = sqlite3_mprintf("row %lld: stored terms are not a sparse BLOB%s%s",
                                      (long long)id, msg ? " (" : "", msg ? msg : "");
            if (msg) problem = sqlite3_mprintf("%z)", problem);
            free(msg);
            break;
        }
        n_rows++;
        int r = silt_spidx_get(vt->index, id, &got, &msg);
        if (r != 1) {
            problem = r == 0 ? sqlite3_mprintf("row %lld is missing from the index", (long long)id)
                             : sqlite3_mprintf("row %lld: %s", (long long)id, msg ? msg : "unreadable");
            free(msg);
        } else if (got.n != want.n || memcmp(got.ids, want.ids, want.n * sizeof *want.ids) ||
                   memcmp(got.weights, want.weights, want.n * sizeof *want.weights)) {
            problem = sqlite3_mprintf("row %lld: the index holds other terms than the table",
                                      (long long)id);
        }
        silt_sparse_vec_free(&want);
        silt_sparse_vec_free(&got);
    }
    sqlite3_reset(s);
    if (!problem && silt_spidx_count(vt->index) != (uint64_t)n_rows)
        problem = sqlite3_mprintf("the index holds %lld rows, the table %lld",
                                  (long long)silt_spidx_count(vt->index), (long long)n_rows);
    if (!problem) {
        char *err = NULL;
        rc = silt_store_check(vt->store, &err);
        if (rc != SQLITE_OK) problem = err ? err : sqlite3_mprintf("snapshot check failed");
    }
    if (problem) {
        vt_error(vt, "integrity-check failed: %s", problem);
        sqlite3_free(problem);
        return SQLITE_CORRUPT_VTAB;
    }
    return SQLITE_OK;
}

/* optimize: merge the index into one segment without deleted rows; rebuild: derive it again
 * from the stored rows. Both then write a snapshot. */
static int rebuild_command(sparse_vtab *vt, int from_truth) {
    int rc = sparse_ready(vt);
    if (rc != SQLITE_OK) return rc;
    char *err = NULL, *msg = NULL;
    if (from_truth) {
        rc = op_rebuild(vt, &err);
        if (rc == SQLITE_OK) rc = embed_queued(vt);
        else return vt_take_error(vt, rc, err);
    } else if (silt_spidx_optimize(vt->index, &msg)) {
        return vt_core_error(vt, SQLITE_ERROR, NULL, msg);
    }
    if (rc == SQLITE_OK) rc = silt_store_checkpoint(vt->store, &err);
    if (rc != SQLITE_OK && err) vt_take_error(vt, rc, err);
    return rc;
}

static int run_command(sparse_vtab *vt, sqlite3_value *cmd) {
    const char *t = (const char *)sqlite3_value_text(cmd);
    if (t && !sqlite3_stricmp(t, "optimize")) return rebuild_command(vt, 0);
    if (t && !sqlite3_stricmp(t, "rebuild")) return rebuild_command(vt, 1);
    if (t && !sqlite3_stricmp(t, "integrity-check")) return integrity_check(vt);
    char *d = describe_value(cmd);
    vt_error(vt, "unknown command %s: expected 'optimize', 'rebuild' or 'integrity-check'", d ? d : "?");
    sqlite3_free(d);
    return SQLITE_ERROR;
}

/* ---- xUpdate ------------------------------------------------------------------------------ */

static int step_write(sparse_vtab *vt, sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) return SQLITE_OK;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return rc;
    return vt_error(vt, "%s", sqlite3_errmsg(vt->db));
}

static int row_exists(sparse_vtab *vt, sqlite3_int64 rowid) {
    sqlite3_stmt *s = data_query(vt, D_EXISTS);
    if (!s) return -1;
    sqlite3_bind_int64(s, 1, rowid);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int touch(sparse_vtab *vt, sqlite3_int64 rowid) {
    char *err = NULL;
    int rc = silt_store_touch(vt->store, rowid, &err);
    return rc == SQLITE_OK ? rc : vt_take_error(vt, rc, err);
}

static int delete_row(sparse_vtab *vt, sqlite3_int64 rowid) {
    sqlite3_stmt *s = data_query(vt, D_DELETE);
    if (!s) return SQLITE_ERROR;
    sqlite3_bind_int64(s, 1, rowid);
    int rc = step_write(vt, s);
    if (rc == SQLITE_OK) rc = touch(vt, rowid);
    if (rc == SQLITE_OK) silt_spidx_remove(vt->index, rowid);
    return rc;
}

static int constraint_error(sparse_vtab *vt, sqlite3_int64 rowid) {
    vt_error(vt, "UNIQUE constraint failed: %s.rowid (rowid %lld exists)", vt->name, (long long)rowid);
    return SQLITE_CONSTRAINT;
}

/* The new row's terms, parsed and encoded into *blob (NULL with *have = 0 when the content
 * is to be encoded instead). */
static int new_terms(sparse_vtab *vt, sqlite3_value *terms, sqlite3_value *content,
                     silt_sparse_vec *sv, void **blob, size_t *n_bytes) {
    memset(sv, 0, sizeof *sv);
    *blob = NULL;
    *n_bytes = 0;
    if (sqlite3_value_type(terms) != SQLITE_NULL) {
        int rc = read_sparse(vt, terms, "terms", sv);
        if (rc != SQLITE_OK) return rc;
        char *err = NULL;
        if (silt_sparse_encode(sv, blob, n_bytes, &err)) {
            silt_sparse_vec_free(sv);
            return vt_core_error(vt, SQLITE_ERROR, "terms", err);
        }
        return SQLITE_OK;
    }
    if (content && sqlite3_value_type(content) != SQLITE_NULL) {
        if (sqlite3_value_type(content) != SQLITE_TEXT)
            return vt_error(vt, "content must be text to encode, got a %s",
                            sqlite3_value_type(content) == SQLITE_BLOB ? "BLOB" : "number");
        return need_model(vt, "content without terms");
    }
    return vt_error(vt, "terms and content are both NULL: give terms (a sparse BLOB or JSON "
                    "object)%s", vt->opt.model ? " or a text to encode" : "");
}

static int insert_row(sparse_vtab *vt, sqlite3_value *rowid_v, sqlite3_value **cols,
                      sqlite3_int64 *out_rowid) {
    sqlite3_int64 rowid = 0;
    int auto_rowid = sqlite3_value_type(rowid_v) == SQLITE_NULL;
    if (!auto_rowid && !exact_int(rowid_v, &rowid)) {
        char *d = describe_value(rowid_v);
        vt_error(vt, "rowid must be an integer, got %s", d ? d : "?");
        sqlite3_free(d);
        return SQLITE_MISMATCH;
    }
    silt_sparse_vec sv;
    void *blob;
    size_t n_bytes;
    int rc = new_terms(vt, cols[COL_TERMS], cols[COL_CONTENT], &sv, &blob, &n_bytes);
    if (rc != SQLITE_OK) return rc;
    int replace = sqlite3_vtab_on_conflict(vt->db) == SQLITE_REPLACE;
    sqlite3_stmt *s = data_query(vt, replace ? D_REPLACE : D_INSERT);
    if (!s) rc = SQLITE_ERROR;
    if (rc == SQLITE_OK) {
        if (!auto_rowid) sqlite3_bind_int64(s, 1, rowid);
        if (blob) sqlite3_bind_blob64(s, 2, blob, n_bytes, SQLITE_STATIC);
        sqlite3_bind_value(s, 3, cols[COL_CONTENT]);
        rc = step_write(vt, s);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) rc = constraint_error(vt, rowid);
    }
    if (rc == SQLITE_OK) {
        if (auto_rowid) rowid = sqlite3_last_insert_rowid(vt->db);
        *out_rowid = rowid;
        rc = touch(vt, rowid);
    }
    if (rc == SQLITE_OK) {
        silt_spidx_remove(vt->index, rowid);
        if (blob) {
            char *err = NULL;
            if (silt_spidx_add(vt->index, rowid, &sv, &err)) rc = vt_core_error(vt, SQLITE_ERROR, NULL, err);
        } else {
            rc = list_push(&vt->embed_queue, rowid);
        }
    }
    free(blob);
    silt_sparse_vec_free(&sv);
    return rc;
}

static int update_row(sparse_vtab *vt, sqlite3_value *old_v, sqlite3_value *new_v,
                      sqlite3_value **cols) {
    sqlite3_int64 old_id = sqlite3_value_int64(old_v), new_id;
    if (!exact_int(new_v, &new_id)) {
        char *d = describe_value(new_v);
        vt_error(vt, "rowid must be an integer, got %s", d ? d : "?");
        sqlite3_free(d);
        return SQLITE_MISMATCH;
    }
    sqlite3_value *terms = cols[COL_TERMS], *content = cols[COL_CONTENT];
    int set_terms = !sqlite3_value_nochange(terms);
    int set_content = !sqlite3_value_nochange(content);
    silt_sparse_vec sv = {0};
    void *blob = NULL;
    size_t n_bytes = 0;
    int rc = SQLITE_OK;
    if (set_terms) {
        rc = new_terms(vt, terms, set_content ? content : NULL, &sv, &blob, &n_bytes);
    } else if (set_content) {
        /* New text and no terms given: the old terms no longer describe the row; the new
         * text is encoded (with a model) or the row keeps its terms (without one). */
        if (vt->opt.model) {
            set_terms = 1;
            if (sqlite3_value_type(content) != SQLITE_TEXT)
                rc = vt_error(vt, "content must be text to encode, got %s",
                              sqlite3_value_type(content) == SQLITE_NULL ? "NULL" : "a non-text value");
        }
    }
    if (rc != SQLITE_OK) return rc;
    if (new_id != old_id) {
        int ex = row_exists(vt, new_id);
        if (ex < 0) rc = vt_error(vt, "%s", sqlite3_errmsg(vt->db));
        else if (ex && sqlite3_vtab_on_conflict(vt->db) == SQLITE_REPLACE) rc = delete_row(vt, new_id);
        else if (ex) rc = constraint_error(vt, new_id);
    }
    sqlite3_stmt *s = rc == SQLITE_OK ? data_query(vt, D_UPDATE + set_terms + 2 * set_content) : NULL;
    if (rc == SQLITE_OK && !s) rc = SQLITE_ERROR;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, old_id);
        sqlite3_bind_int64(s, 2, new_id);
        if (set_terms && blob) sqlite3_bind_blob64(s, 3, blob, n_bytes, SQLITE_STATIC);
        if (set_content) sqlite3_bind_value(s, 4, content);
        rc = step_write(vt, s);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) rc = constraint_error(vt, new_id);
    }
    if (rc == SQLITE_OK) rc = touch(vt, old_id);
    if (rc == SQLITE_OK) rc = touch(vt, new_id);
    if (rc == SQLITE_OK) {
        silt_spidx_remove(vt->index, old_id);
        silt_spidx_remove(vt->index, new_id);
        if (blob) {
            char *err = NULL;
            if (silt_spidx_add(vt->index, new_id, &sv, &err)) rc = vt_core_error(vt, SQLITE_ERROR, NULL, err);
        } else if (set_terms) {
            rc = list_push(&vt->embed_queue, new_id);
        } else {
            char *err = NULL; /* terms unchanged (rowid changed): read them back */
            rc = op_refresh(vt, &new_id, 1, &err);
            if (rc != SQLITE_OK) vt_take_error(vt, rc, err);
        }
    }
    free(blob);
    silt_sparse_vec_free(&sv);
    return rc;
}

static int sparse_update(sqlite3_vtab *tab, int argc, sqlite3_value **argv, sqlite3_int64 *rowid) {
    sparse_vtab *vt = (sparse_vtab *)tab;
    int rc = sparse_ready(vt);
    if (rc != SQLITE_OK) return rc;
    if (argc == 1) return delete_row(vt, sqlite3_value_int64(argv[0]));
    sqlite3_value **cols = argv + 2;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        if (sqlite3_value_type(cols[COL_COMMAND]) != SQLITE_NULL) {
            *rowid = sqlite3_last_insert_rowid(vt->db);
            rc = run_command(vt, cols[COL_COMMAND]);
            sqlite3_set_last_insert_rowid(vt->db, *rowid);
            return rc;
        }
        return insert_row(vt, argv[1], cols, rowid);
    }
    return update_row(vt, argv[0], argv[1], cols);
}

/* ---- transactions -------------------------------------------------------------------------- */

static int sparse_begin(sqlite3_vtab *tab) {
    sparse_vtab *vt = (sparse_vtab *)tab;
    char *err = NULL;
    int rc = silt_store_begin(vt->store, &err);
    return rc == SQLITE_OK ? rc : vt_take_error(vt, rc, err);
}

static int sparse_sync(sqlite3_vtab *tab) {
    sparse_vtab *vt = (sparse_vtab *)tab;
    char *err = NULL;
    int rc = silt_store_sync(vt->store, &err);
    return rc == SQLITE_OK ? rc : vt_take_error(vt, rc, err);
}

static int sparse_commit(sqlite3_vtab *tab) {
    silt_store_commit(((sparse_vtab *)tab)->store);
    return SQLITE_OK;
}

static int sparse_rollback(sqlite3_vtab *tab) {
    sparse_vtab *vt = (sparse_vtab *)tab;
    silt_store_rollback(vt->store);
    vt->embed_queue.n = 0; /* queued rows are rolled back; survivors are re-derived */
    return SQLITE_OK;
}

static int sparse_savepoint(sqlite3_vtab *tab, int level) {
    silt_store_savepoint(((sparse_vtab *)tab)->store, level);
    return SQLITE_OK;
}

static int sparse_release(sqlite3_vtab *tab, int level) {
    silt_store_release(((sparse_vtab *)tab)->store, level);
    return SQLITE_OK;
}

static int sparse_rollback_to(sqlite3_vtab *tab, int level) {
    silt_store_rollback_to(((sparse_vtab *)tab)->store, level);
    return SQLITE_OK;
}

/* ---- xDisconnect, xDestroy, xRename, xShadowName ------------------------------------------ */

static int sparse_disconnect(sqlite3_vtab *tab) {
    sparse_free((sparse_vtab *)tab);
    return SQLITE_OK;
}

static int sparse_destroy(sqlite3_vtab *tab) {
    sparse_vtab *vt = (sparse_vtab *)tab;
    finalize_data_queries(vt);
    char *sql = sqlite3_mprintf("DROP TABLE IF EXISTS \"%w\".\"%w_data\"", vt->schema, vt->name);
    int rc = sql ? sqlite3_exec(vt->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    char *err = NULL;
    if (rc == SQLITE_OK) rc = silt_store_destroy(vt->db, vt->schema, vt->name, &err);
    else vt_error(vt, "%s", sqlite3_errmsg(vt->db));
    if (rc != SQLITE_OK) return err ? vt_take_error(vt, rc, err) : rc;
    sparse_free(vt);
    return SQLITE_OK;
}

static int sparse_rename(sqlite3_vtab *tab, const char *new_name) {
    sparse_vtab *vt = (sparse_vtab *)tab;
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

static int sparse_shadow_name(const char *suffix) {
    return !sqlite3_stricmp(suffix, "data") || silt_store_is_shadow_role(suffix);
}

static sqlite3_module sparse_module = {
    .iVersion = 3,
    .xCreate = sparse_create,
    .xConnect = sparse_connect,
    .xBestIndex = sparse_best_index,
    .xDisconnect = sparse_disconnect,
    .xDestroy = sparse_destroy,
    .xOpen = sparse_open,
    .xClose = sparse_close,
    .xFilter = sparse_filter,
    .xNext = sparse_next,
    .xEof = sparse_eof,
    .xColumn = sparse_column,
    .xRowid = sparse_rowid,
    .xUpdate = sparse_update,
    .xBegin = sparse_begin,
    .xSync = sparse_sync,
    .xCommit = sparse_commit,
    .xRollback = sparse_rollback,
    .xRename = sparse_rename,
    .xSavepoint = sparse_savepoint,
    .xRelease = sparse_release,
    .xRollbackTo = sparse_rollback_to,
    .xShadowName = sparse_shadow_name,
};

int silt_register_sparse(sqlite3 *db, char **err) {
    int rc = sqlite3_create_module_v2(db, "silt_sparse", &sparse_module, NULL, NULL);
    if (rc != SQLITE_OK)
        *err = sqlite3_mprintf("silt: cannot register silt_sparse: %s", sqlite3_errmsg(db));
    return rc;
}
