/* join_vtab.c: silt_join, joinable-table discovery across the tables of a lake (the
 * DeepJoin recipe: embed columns, search, verify containment exactly).
 *
 *   CREATE VIRTUAL TABLE lake_join USING silt_join(model=default);
 *   INSERT INTO lake_join(tbl) VALUES ('population');              -- every column
 *   INSERT INTO lake_join(tbl, col) VALUES ('countries', 'iso3');   -- one column
 *   SELECT tbl, col, score, containment FROM lake_join
 *    WHERE query_table = 'orders' AND query_column = 'customer' AND k = 10;
 *   SELECT * FROM lake_join('orders', 'customer') LIMIT 10;         -- table-valued form
 *   DELETE FROM lake_join WHERE tbl = 'population';
 *   INSERT INTO lake_join(lake_join) VALUES ('rebuild');  -- or 'optimize', 'integrity-check'
 *
 * Storage: <t>_cols(id, tbl, col, n_values, n_distinct) lists the indexed columns;
 * <t>_values(h, col_id) holds each column's distinct values as 64-bit hashes (the exact
 * layer, and value -> columns posting lists through its primary key); <t>_df(h, n) the
 * length of each value's posting list, so the exact search reads the rarest first;
 * <t>_sets(id, hashes) each column's sorted hashes in one blob, so that verifying a
 * candidate is one read and a merge (tables made before <t>_df and <t>_sets get them at
 * 'rebuild'; until then searches count lists and scan <t>_values); <t>_digests(id, sha256)
 * the SHA-256 of the model's identity and the exact text each column was embedded from, so
 * that querying with an indexed, unchanged column reuses its stored embedding instead of
 * running the encoder (tables made before it get it at 'rebuild'); <t>_vec is a
 * silt_dense table (cosine, HNSW32 over half-precision vectors) holding each column's
 * embedding under its id, so the ANN index inherits silt_dense's transactional storage
 * instead of a copy of it.
 *
 * Modes (hidden column `mode`): 'equi' (default) takes the 3·k (at least 30) columns
 * holding most of the query's rarest values and of its values in an in-memory sample of the
 * posting lists plus, unless the lists read already prove that no other column can enter
 * the top k or the sample held many of the query's values, 2·k (at least 20) columns from
 * the embedding index, and ranks them by exact containment |Q ∩ X| / |Q| (score =
 * containment);
 * 'semantic' ranks by the similarity of the column embeddings (score = cosine similarity),
 * for joins that tolerate spelling and format differences. `exact = 1` runs the exact top-k
 * overlap search over the posting lists (silt_colset_topk: rarest lists first, prefix
 * filter, verification; score = containment, ties to the column indexed first). Every returned row's
 * containment is exact. The query column is never returned as its own match. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/embed.h"
#include "core/sha256.h"
#include "index/colset.h"
#include "index/rowid_map.h"
#include "sqlext/join_column.h"
#include "sqlext/join_summary.h"
#include "sqlext/models.h"
#include "sqlext/register.h"

enum { C_TBL, C_COL, C_SCORE, C_CONTAINMENT, C_QTABLE, C_QCOLUMN, C_K, C_EXACT, C_MODE, C_CMD };
#define N_ARGS 5 /* query_table, query_column, k, exact, mode */
#define DEFAULT_K 10
#define MAX_TEXT_BYTES 4096 /* column text before the encoder cuts it to its window */
#define MIN_CANDIDATES 100
#define EMBED_CANDIDATES_PER_K 10 /* semantic: columns taken from the ANN index */
#define SEMANTIC_EF_SEARCH 64     /* silt_dense's default search breadth */
/* equi takes fewer columns from the ANN index, with a narrower search: the rare-value
 * candidates find most high-containment columns, and on the 100,000-column benchmark lake
 * (bench/README.md) 30 columns at breadth 16 gave the same NDCG@10 as 100 at 64 (0.989),
 * at about a third less latency; fivethirtyeight stayed at 1.000. With the in-memory
 * sample's candidates, 20 gave the same NDCG@10 as 30 on both lakes (session 6), and breadth
 * 8 the same as 16 (0.981 / 0.991; 4 too) for a search of ~0.5 ms instead of ~0.8 at 100,000
 * columns (session 7): the graph walk reads ~2 KB per vector visited, most of it from memory. */
#define EQUI_MIN_CANDIDATES 20
/* The ANN index of the column embeddings. A search's cost is reading the vectors it visits,
 * 2 KB each in single precision at USE-Lite's 512 dimensions; in half precision they are half
 * the bytes and half the memory. On the 100,000-column benchmark lake (both lakes vacuumed) a
 * k-20, breadth-8 search statement took 0.17-0.20 ms instead of 0.20-0.24; NDCG@10 did not
 * move (0.979 there, 0.992 on fivethirtyeight); equi's mean latency moved less than the
 * run-to-run noise, since 63% of its searches skip the ANN index (bench/README.md, join,
 * session 8). The stored embeddings (<t>_vec_data) stay single precision. */
#define JOIN_ANN_INDEX "HNSW32,SQfp16"
#define EQUI_EMBED_CANDIDATES_PER_K 2
#define EQUI_EF_SEARCH 8
/* equi: columns taken from the lists counted. 3 rather than 5 (session 6, with the sample's
 * counts): equi 18-26% faster in the same process, NDCG@10 0.990 -> 0.984 on the 100,000-column
 * lake and 0.993 -> 0.992 on fivethirtyeight (bench/README.md, join). */
#define RARE_CANDIDATES_PER_K 3
/* ... and at least this many: with the embedding not searched (SAMPLE_SKIPS_ANN), a small k
 * would otherwise leave a handful of candidates, and the counts of columns of similar
 * containment differ by the sample's noise. */
#define RARE_MIN_CANDIDATES 30
/* Query values whose posting list lengths equi looks up: one B-tree seek each, the largest
 * cost of a big query. Measured (bench/README.md, join): 256 rather than 1,024 cut the mean
 * latency on the 100,000-column lake by ~15% for NDCG@10 0.998 instead of 1.000 on
 * fivethirtyeight; 128 cut ~30% but fell to 0.984 there. */
#define RARE_SAMPLE 256
/* Posting entries equi reads from the table, rarest lists first: each is a step of a
 * statement (~0.2 us). 2,048 rather than 4,096 (session 7) cut the entries read on the
 * 100,000-column lake from 1,258 to 897 per query, NDCG@10 0.981 -> 0.979 there and 0.992 on
 * fivethirtyeight either way (its lists are short); 1,024 fell to 0.975. */
#define RARE_POSTINGS 2048
/* The in-memory sample (join_summary.h) gives equi the lists of about a quarter of the query's
 * values without a seek: up to SAMPLE_POSTINGS entries of them, rarest first. When the query
 * has at least SAMPLE_DECIDES sampled values, only the RARE_LISTS_AFTER_SAMPLE rarest other
 * lists are read from the table (else, a small column, RARE_LISTS_SMALL), and when the lists
 * of at least SAMPLE_SKIPS_ANN sampled values were counted, the embedding is not searched:
 * the counts then find the columns of large overlap. Measured on the benchmark lakes
 * (bench/README.md, join, session 6): NDCG@10 0.981 on the 100,000-column lake (reading 4-8
 * lists without the sample gave 0.94-0.97) and 0.991 on fivethirtyeight, where skipping the
 * embedding from 8 or 12 sampled values on fell to 0.949 and 0.970 (16 and 24: 0.993). */
#define SAMPLE_POSTINGS 16384
#define SAMPLE_DECIDES 8
#define RARE_LISTS_AFTER_SAMPLE 4
#define RARE_LISTS_SMALL 16
#define SAMPLE_SKIPS_ANN 16
/* ... and when it would be searched, the lists not read yet are all read if there are at most
 * REST_LISTS of them with at most REST_POSTINGS entries in all: the counts are then the
 * overlaps, which decide without the embedding (fewer seeks than the embedding costs, and an
 * exact answer). */
#define REST_LISTS 48
#define REST_POSTINGS 2048

/* Prepared statements over the shadow tables that read posting lists and column sets, for
 * silt_colset_topk and for verifying candidates. Owned by one search. */
typedef struct lake_reader {
    sqlite3_stmt *len;   /* (h) -> the length of h's posting list */
    sqlite3_stmt *list;  /* (h) -> col_id of every column holding h */
    sqlite3_stmt *size;  /* (id) -> the column's number of distinct values */
    sqlite3_stmt *scan;  /* (id) -> the column's hashes, ascending */
    sqlite3_stmt *probe; /* (h, id) -> a row when column id holds h */
    sqlite3_stmt *name;  /* (id) -> tbl, col */
    sqlite3_stmt *set;   /* (id) -> the column's hashes as one blob, or NULL (older tables) */
    sqlite3_stmt *knn;   /* (embedding, k, ef_search) -> id, distance of the nearest columns */
    sqlite3_stmt *stored; /* (tbl, col, digest) -> the stored embedding, or NULL (older tables) */
    int has_df;          /* len reads <t>_df (else it counts <t>_values) */
    /* When set, list lengths and column sizes come from this copy instead of len and size
     * (summary_attach decides; only the table's kept reader gets it). */
    const silt_join_summary *sum;
    /* With sum: slot[id] is -1, or column id's index in the counts of the search under way
     * (equi's list counting; reset before the search returns). n_ids entries. */
    int32_t *slot;
} lake_reader;

typedef struct {
    sqlite3_vtab base;
    sqlite3 *db;
    char *schema;      /* database holding the table ("main", or an attached name) */
    char *name;        /* table name */
    char *model;       /* model name given at CREATE */
    silt_encoder *enc; /* acquired model, released at disconnect */
    lake_reader reader;     /* kept between searches (reader_get) */
    int reader_ok;          /* reader is prepared */
    int reader_busy;        /* a search is using it */
    int reader_cookie;      /* schema_version it was prepared under */
    sqlite3_stmt *cookie_st; /* reads schema_version */
    /* The in-memory summary (join_summary.h) and what it was loaded under. It is dropped
     * when another connection commits (data_version), when this one writes the table
     * (xUpdate sets wrote: while this connection is inside a transaction that wrote, no
     * summary is used, since a rollback would make any copy taken since wrong), and with
     * the kept reader when the schema changes. */
    silt_join_summary sum;
    int32_t *slot;           /* sum.n_ids entries of -1 between searches (lake_reader.slot) */
    int sum_state;           /* 0: none, 1: loaded, 2: the lake is over the copy's limits */
    sqlite3_int64 sum_dv;    /* data_version it was loaded under */
    int wrote;               /* xUpdate ran since the summary was last checked */
    sqlite3_stmt *dv_st;     /* reads data_version */
} join_vtab;

typedef struct {
    sqlite3_int64 id; /* column id in <t>_cols, the row's rowid */
    char *tbl, *col;
    double score, containment;
} join_row;

typedef struct {
    sqlite3_vtab_cursor base;
    join_row *rows; /* owned; results of xFilter */
    int n_rows, i;
    int is_search;               /* score/containment defined */
    sqlite3_value *args[N_ARGS]; /* copies of the query arguments, for their columns */
} join_cursor;

/* <t>_sets stores a column's sorted hashes as 8-byte little-endian integers, so that a
 * database file reads the same on any machine. */
static void set_hash_put(unsigned char *b, size_t j, int64_t h) {
    uint64_t u = (uint64_t)h;
    for (int i = 0; i < 8; i++) b[8 * j + (size_t)i] = (unsigned char)(u >> (8 * i));
}

static int64_t set_hash_at(const unsigned char *b, size_t j) {
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--) u = u << 8 | b[8 * j + (size_t)i];
    int64_t h;
    memcpy(&h, &u, sizeof h);
    return h;
}

static void set_err(sqlite3_vtab *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(sqlite3_vtab *v, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sqlite3_free(v->zErrMsg);
    v->zErrMsg = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
}

/* Splits "schema.table" when the prefix names an attached database; otherwise the whole
 * text is a table of main. Returns sqlite3_malloc'd strings. */
static int split_table(sqlite3 *db, const char *qualified, char **schema, char **table) {
    const char *dot = strchr(qualified, '.');
    *schema = *table = NULL;
    if (dot) {
        char *prefix = sqlite3_mprintf("%.*s", (int)(dot - qualified), qualified);
        if (!prefix) return SQLITE_NOMEM;
        sqlite3_stmt *st;
        int found = 0;
        if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_database_list WHERE name = ?1", -1, &st,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
            found = sqlite3_step(st) == SQLITE_ROW;
            sqlite3_finalize(st);
        }
        if (found) {
            *schema = prefix;
            *table = sqlite3_mprintf("%s", dot + 1);
            return *table ? SQLITE_OK : SQLITE_NOMEM;
        }
        sqlite3_free(prefix);
    }
    *schema = sqlite3_mprintf("main");
    *table = sqlite3_mprintf("%s", qualified);
    return *schema && *table ? SQLITE_OK : SQLITE_NOMEM;
}

static char *column_text(const char *table, const char *col, const silt_join_column *c, size_t max_bytes) {
    return silt_colset_text(table, col, (const char *const *)c->values, c->lens, c->n_values, max_bytes);
}

/* SHA-256 of the model's identity and a column text: equal digests mean the encoder would
 * be given the same text by the same model, so a stored embedding can stand in for a new
 * one. The identity is what the table knows of its model (name, architecture, width,
 * window); the NULs keep the fields from running into each other. */
static void text_digest(const join_vtab *v, const char *text, size_t len, unsigned char out[32]) {
    char id[128];
    int n = snprintf(id, sizeof id, "silt_join text v1%c%s%c%d%c%d", 0, v->enc->arch, 0, v->enc->dim, 0,
                     v->enc->max_tokens);
    silt_sha256 h;
    silt_sha256_init(&h);
    silt_sha256_update(&h, id, n > 0 && (size_t)n < sizeof id ? (size_t)n + 1 : sizeof id);
    silt_sha256_update(&h, v->model, strlen(v->model) + 1);
    silt_sha256_update(&h, text, len);
    silt_sha256_final(&h, out);
}

/* Runs a statement built from fmt (identifiers quoted by the caller with %w). */
static int exec_fmt(sqlite3 *db, char **err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *sql = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    if (!sql) return SQLITE_NOMEM;
    int rc = sqlite3_exec(db, sql, NULL, NULL, err);
    sqlite3_free(sql);
    return rc;
}

/* ---- create / connect -------------------------------------------------------------- */

static int join_init(sqlite3 *db, void *aux, int argc, const char *const *argv,
                     sqlite3_vtab **out, char **err, int create) {
    (void)aux;
    const char *model = "default";
    int seen_model = 0;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        size_t klen = eq ? (size_t)(eq - a) : strlen(a);
        while (klen && a[klen - 1] == ' ') klen--;
        if (eq && klen == 5 && strncmp(a, "model", 5) == 0) {
            if (seen_model++) {
                *err = sqlite3_mprintf("silt_join: option model given twice");
                return SQLITE_ERROR;
            }
            model = eq + 1;
        } else {
            *err = sqlite3_mprintf("silt_join: unknown option '%s' (expected model=NAME)", a);
            return SQLITE_ERROR;
        }
    }
    join_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v) return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->db = db;
    v->schema = sqlite3_mprintf("%s", argv[1]);
    v->name = sqlite3_mprintf("%s", argv[2]);
    /* Trim blanks and quotes around the model name. */
    while (*model == ' ' || *model == '\'' || *model == '"') model++;
    size_t mlen = strlen(model);
    while (mlen && (model[mlen - 1] == ' ' || model[mlen - 1] == '\'' || model[mlen - 1] == '"')) mlen--;
    v->model = sqlite3_mprintf("%.*s", (int)mlen, model);
    if (!v->schema || !v->name || !v->model) goto nomem;
    char *merr = NULL;
    if (silt_model_acquire(db, v->model, &v->enc, &merr) != SQLITE_OK) {
        *err = sqlite3_mprintf("silt_join: %s", merr ? merr : "cannot load the model");
        sqlite3_free(merr);
        goto fail;
    }
    if (v->enc->kind != SILT_KIND_DENSE) {
        *err = sqlite3_mprintf("silt_join: model '%s' is sparse; silt_join needs a dense model", v->model);
        goto fail;
    }
    char *ddl = sqlite3_mprintf(
        "CREATE TABLE x(tbl TEXT, col TEXT, score REAL, containment REAL, query_table HIDDEN, "
        "query_column HIDDEN, k HIDDEN, exact HIDDEN, mode HIDDEN, \"%w\" HIDDEN)",
        v->name);
    if (!ddl) goto nomem;
    int rc = sqlite3_declare_vtab(db, ddl);
    sqlite3_free(ddl);
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("silt_join: %s", sqlite3_errmsg(db));
        goto fail;
    }
    if (create) {
        rc = exec_fmt(db, err,
                      "CREATE TABLE \"%w\".\"%w_cols\"(id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, "
                      "col TEXT NOT NULL, n_values INTEGER, n_distinct INTEGER, UNIQUE(tbl, col));"
                      "CREATE TABLE \"%w\".\"%w_values\"(h INTEGER NOT NULL, col_id INTEGER NOT NULL, "
                      "PRIMARY KEY(h, col_id)) WITHOUT ROWID;"
                      "CREATE INDEX \"%w\".\"%w_values_col\" ON \"%w_values\"(col_id, h);"
                      "CREATE TABLE \"%w\".\"%w_df\"(h INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
                      "CREATE TABLE \"%w\".\"%w_sets\"(id INTEGER PRIMARY KEY, hashes BLOB NOT NULL);"
                      "CREATE TABLE \"%w\".\"%w_digests\"(id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL);"
                      "CREATE VIRTUAL TABLE \"%w\".\"%w_vec\" USING silt_dense(dim=%d, metric=cosine, index='" JOIN_ANN_INDEX "');",
                      v->schema, v->name, v->schema, v->name, v->schema, v->name, v->name,
                      v->schema, v->name, v->schema, v->name, v->schema, v->name, v->schema, v->name,
                      v->enc->dim);
        if (rc != SQLITE_OK) goto fail;
    }
    *out = &v->base;
    return SQLITE_OK;
nomem:
    *err = sqlite3_mprintf("silt_join: out of memory");
fail:
    if (v->enc) silt_model_release(v->enc);
    sqlite3_free(v->schema);
    sqlite3_free(v->name);
    sqlite3_free(v->model);
    sqlite3_free(v);
    return SQLITE_ERROR;
}

static int join_create(sqlite3 *db, void *aux, int argc, const char *const *argv,
                       sqlite3_vtab **out, char **err) {
    return join_init(db, aux, argc, argv, out, err, 1);
}

static int join_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                        sqlite3_vtab **out, char **err) {
    return join_init(db, aux, argc, argv, out, err, 0);
}

/* ---- planning ---------------------------------------------------------------------- */

/* idxNum bit i: argument i (query_table, query_column, k, exact, mode) is constrained;
 * the values arrive in that order. */
static int join_best_index(sqlite3_vtab *tab, sqlite3_index_info *info) {
    (void)tab;
    int where[N_ARGS];
    for (int i = 0; i < N_ARGS; i++) where[i] = -1;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (!c->usable || c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
        if (c->iColumn >= C_QTABLE && c->iColumn <= C_MODE) where[c->iColumn - C_QTABLE] = i;
    }
    int mask = 0, argv_i = 1;
    for (int a = 0; a < N_ARGS; a++) {
        if (where[a] < 0) continue;
        mask |= 1 << a;
        info->aConstraintUsage[where[a]].argvIndex = argv_i++;
        info->aConstraintUsage[where[a]].omit = 1;
    }
    info->idxNum = mask;
    if ((mask & 3) == 3) {
        info->estimatedCost = 1000;
        info->estimatedRows = 10;
    } else {
        info->estimatedCost = 1e6;
        info->estimatedRows = 1000;
    }
    return SQLITE_OK;
}

/* ---- cursor ------------------------------------------------------------------------ */

static int join_open(sqlite3_vtab *tab, sqlite3_vtab_cursor **out) {
    (void)tab;
    join_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static void cursor_rows_free(join_cursor *c) {
    for (int i = 0; i < c->n_rows; i++) {
        sqlite3_free(c->rows[i].tbl);
        sqlite3_free(c->rows[i].col);
    }
    sqlite3_free(c->rows);
    c->rows = NULL;
    c->n_rows = c->i = 0;
}

static void cursor_reset(join_cursor *c) {
    cursor_rows_free(c);
    for (int i = 0; i < N_ARGS; i++) {
        sqlite3_value_free(c->args[i]);
        c->args[i] = NULL;
    }
}

static int join_close(sqlite3_vtab_cursor *cur) {
    cursor_reset((join_cursor *)cur);
    sqlite3_free(cur);
    return SQLITE_OK;
}

static int push_row(join_cursor *c, int *cap, sqlite3_int64 id, const char *tbl, const char *col,
                    double score, double containment) {
    if (c->n_rows == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        join_row *r = sqlite3_realloc64(c->rows, (sqlite3_uint64)*cap * sizeof *r);
        if (!r) return SQLITE_NOMEM;
        c->rows = r;
    }
    join_row *r = &c->rows[c->n_rows];
    r->id = id;
    r->tbl = sqlite3_mprintf("%s", tbl);
    r->col = sqlite3_mprintf("%s", col);
    r->score = score;
    r->containment = containment;
    if (!r->tbl || !r->col) {
        sqlite3_free(r->tbl);
        sqlite3_free(r->col);
        return SQLITE_NOMEM;
    }
    c->n_rows++;
    return SQLITE_OK;
}

static int full_scan(join_vtab *v, join_cursor *c) {
    char *sql = sqlite3_mprintf("SELECT id, tbl, col FROM \"%w\".\"%w_cols\" ORDER BY id", v->schema, v->name);
    if (!sql) return SQLITE_NOMEM;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(v->db, sql, -1, &st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return rc;
    int cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = push_row(c, &cap, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                      (const char *)sqlite3_column_text(st, 2), 0, 0);
        if (rc != SQLITE_OK) break;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- reading the exact layer ------------------------------------------------------- */


static void reader_close(lake_reader *r) {
    sqlite3_finalize(r->len);
    sqlite3_finalize(r->list);
    sqlite3_finalize(r->size);
    sqlite3_finalize(r->scan);
    sqlite3_finalize(r->probe);
    sqlite3_finalize(r->name);
    sqlite3_finalize(r->set);
    sqlite3_finalize(r->knn);
    sqlite3_finalize(r->stored);
    memset(r, 0, sizeof *r);
}

static void summary_drop(join_vtab *v) {
    silt_join_summary_free(&v->sum);
    sqlite3_free(v->slot);
    v->slot = NULL;
    v->sum_state = 0;
}

/* Prepares a statement built from fmt (identifiers quoted by the caller with %w). */
static int prepare_fmt(sqlite3 *db, sqlite3_stmt **st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *sql = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    *st = NULL;
    if (!sql) return SQLITE_NOMEM;
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    sqlite3_free(sql);
    return rc;
}

/* Does the table keep the shadow table <t>_<suffix>? <t>_df (posting list lengths) and
 * <t>_sets (each column's hashes in one blob) came after the first release of silt_join:
 * older tables have neither until 'rebuild', and their searches count the posting lists and
 * scan <t>_values instead. Sets *out. */
static int has_shadow(join_vtab *v, const char *suffix, int *out) {
    sqlite3_stmt *st;
    int rc = prepare_fmt(v->db, &st, "SELECT 1 FROM \"%w\".sqlite_schema WHERE type = 'table' AND name = '%q_%q'",
                         v->schema, v->name, suffix);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int reader_open(join_vtab *v, lake_reader *r) {
    memset(r, 0, sizeof *r);
    int df = 0, rc = has_shadow(v, "df", &df);
    if (rc == SQLITE_OK)
        rc = (r->has_df = df) ? prepare_fmt(v->db, &r->len, "SELECT n FROM \"%w\".\"%w_df\" WHERE h = ?1", v->schema, v->name)
                : prepare_fmt(v->db, &r->len, "SELECT count(*) FROM \"%w\".\"%w_values\" WHERE h = ?1",
                              v->schema, v->name);
    if (rc == SQLITE_OK)
        rc = prepare_fmt(v->db, &r->list, "SELECT col_id FROM \"%w\".\"%w_values\" WHERE h = ?1", v->schema, v->name);
    if (rc == SQLITE_OK)
        rc = prepare_fmt(v->db, &r->size, "SELECT n_distinct FROM \"%w\".\"%w_cols\" WHERE id = ?1", v->schema, v->name);
    if (rc == SQLITE_OK)
        rc = prepare_fmt(v->db, &r->scan, "SELECT h FROM \"%w\".\"%w_values\" WHERE col_id = ?1 ORDER BY h",
                         v->schema, v->name);
    if (rc == SQLITE_OK)
        rc = prepare_fmt(v->db, &r->probe, "SELECT 1 FROM \"%w\".\"%w_values\" WHERE h = ?1 AND col_id = ?2",
                         v->schema, v->name);
    if (rc == SQLITE_OK)
        rc = prepare_fmt(v->db, &r->name, "SELECT tbl, col FROM \"%w\".\"%w_cols\" WHERE id = ?1", v->schema, v->name);
    int sets = 0;
    if (rc == SQLITE_OK) rc = has_shadow(v, "sets", &sets);
    if (rc == SQLITE_OK && sets)
        rc = prepare_fmt(v->db, &r->set, "SELECT hashes FROM \"%w\".\"%w_sets\" WHERE id = ?1", v->schema, v->name);
    if (rc == SQLITE_OK)
        rc = prepare_fmt(v->db, &r->knn,
                         "SELECT rowid, distance FROM \"%w\".\"%w_vec\" WHERE embedding MATCH ?1 AND k = ?2 "
                         "AND ef_search = ?3",
                         v->schema, v->name);
    int digests = 0;
    if (rc == SQLITE_OK) rc = has_shadow(v, "digests", &digests);
    if (rc == SQLITE_OK && digests)
        rc = prepare_fmt(v->db, &r->stored,
                         "SELECT e.embedding FROM \"%w\".\"%w_cols\" AS c JOIN \"%w\".\"%w_digests\" AS g ON g.id = c.id "
                         "JOIN \"%w\".\"%w_vec\" AS e ON e.rowid = c.id WHERE c.tbl = ?1 AND c.col = ?2 AND g.sha256 = ?3",
                         v->schema, v->name, v->schema, v->name, v->schema, v->name);
    if (rc != SQLITE_OK) reader_close(r);
    return rc;
}

/* The schema cookie of the table's database: the cached reader is stale once it changes
 * (shadow tables created by 'rebuild' or dropped, the table renamed). */
static int schema_cookie(join_vtab *v, int *cookie) {
    int rc = SQLITE_OK;
    if (!v->cookie_st) rc = prepare_fmt(v->db, &v->cookie_st, "PRAGMA \"%w\".schema_version", v->schema);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(v->cookie_st);
    *cookie = rc == SQLITE_ROW ? sqlite3_column_int(v->cookie_st, 0) : 0;
    sqlite3_reset(v->cookie_st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc == SQLITE_DONE ? SQLITE_ERROR : rc;
}

/* A reader for one search. Preparing its statements costs about as much as a small search,
 * so the table keeps one between searches; a search that starts while the kept one is in
 * use (from inside another, through a view) gets its own. Give it back with reader_put. */
static int reader_get(join_vtab *v, lake_reader *local, lake_reader **out) {
    *out = NULL;
    if (v->reader_busy) {
        int rc = reader_open(v, local);
        if (rc == SQLITE_OK) *out = local;
        return rc;
    }
    int cookie = 0, rc = schema_cookie(v, &cookie);
    if (rc != SQLITE_OK) return rc;
    if (v->reader_ok && cookie != v->reader_cookie) {
        reader_close(&v->reader);
        v->reader_ok = 0;
        summary_drop(v); /* shadow tables created, dropped or renamed */
    }
    if (!v->reader_ok) {
        if ((rc = reader_open(v, &v->reader)) != SQLITE_OK) return rc;
        v->reader_ok = 1;
        v->reader_cookie = cookie;
    }
    v->reader_busy = 1;
    *out = &v->reader;
    return SQLITE_OK;
}

static void reader_put(join_vtab *v, lake_reader *r) {
    if (!r) return;
    if (r != &v->reader) {
        reader_close(r);
        return;
    }
    sqlite3_stmt *all[] = {r->len, r->list, r->size, r->scan, r->probe, r->name, r->set, r->knn, r->stored};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) sqlite3_reset(all[i]);
    v->reader_busy = 0;
}

static void reader_drop(join_vtab *v) {
    reader_close(&v->reader);
    v->reader_ok = 0;
    sqlite3_finalize(v->cookie_st);
    v->cookie_st = NULL;
    summary_drop(v);
    sqlite3_finalize(v->dv_st);
    v->dv_st = NULL;
}

/* Gives the table's kept reader the in-memory summary when it is valid for what this
 * search sees, loading it first if needed (the first search of a large lake pays that:
 * ~0.1 s per million distinct values). A nested search's own reader, a table without
 * <t>_df, and a lake over the summary's limits seek as before. */
static int summary_attach(join_vtab *v, lake_reader *rd) {
    rd->sum = NULL;
    rd->slot = NULL;
    if (rd != &v->reader || !rd->has_df) return SQLITE_OK;
    if (v->wrote) {
        if (!sqlite3_get_autocommit(v->db)) return SQLITE_OK;
        summary_drop(v);
        v->wrote = 0;
    }
    int rc = SQLITE_OK;
    if (!v->dv_st) rc = prepare_fmt(v->db, &v->dv_st, "PRAGMA \"%w\".data_version", v->schema);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(v->dv_st);
    sqlite3_int64 dv = sqlite3_column_int64(v->dv_st, 0);
    sqlite3_reset(v->dv_st);
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
    if (v->sum_state && dv != v->sum_dv) summary_drop(v);
    if (!v->sum_state) {
        rc = silt_join_summary_load(v->db, v->schema, v->name, &v->sum);
        if (rc != SQLITE_OK && rc != SQLITE_TOOBIG) return rc;
        if (rc == SQLITE_OK && v->sum.n_ids) {
            /* Counting postings by column in this array instead of a hash map made the
             * sample's ~10,000 postings per query several times cheaper to count. */
            v->slot = sqlite3_malloc64(v->sum.n_ids * sizeof *v->slot);
            if (!v->slot) {
                silt_join_summary_free(&v->sum);
                return SQLITE_NOMEM;
            }
            memset(v->slot, 0xff, v->sum.n_ids * sizeof *v->slot);
        }
        v->sum_state = rc == SQLITE_OK ? 1 : 2;
        v->sum_dv = dv;
    }
    if (v->sum_state == 1) rd->sum = &v->sum, rd->slot = v->slot;
    return SQLITE_OK;
}

/* The callbacks of silt_colset_source: 0 (SQLITE_OK) or an SQLite error code. */
static int rd_list_len(void *ctx, int64_t h, size_t *len) {
    const lake_reader *r = ctx;
    if (r->sum) {
        *len = silt_join_summary_df(r->sum, h);
        return SQLITE_OK;
    }
    sqlite3_stmt *st = r->len;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, h);
    int rc = sqlite3_step(st);
    sqlite3_int64 n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    *len = n > 0 ? (size_t)n : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int rd_list(void *ctx, int64_t h, int64_t **ids, size_t *n, size_t *cap) {
    sqlite3_stmt *st = ((lake_reader *)ctx)->list;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, h);
    int rc;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == *cap) {
            /* realloc, not sqlite3_realloc: silt_colset_topk frees the buffer with free(). */
            size_t c = *cap ? *cap * 2 : 256;
            int64_t *g = realloc(*ids, c * sizeof *g);
            if (!g) {
                sqlite3_reset(st);
                return SQLITE_NOMEM;
            }
            *ids = g;
            *cap = c;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int rd_size(void *ctx, int64_t id, size_t *n) {
    const lake_reader *r = ctx;
    if (r->sum) {
        *n = silt_join_summary_size(r->sum, id);
        return SQLITE_OK;
    }
    sqlite3_stmt *st = r->size;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_int64 x = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    /* A missing count (a row written by hand) must not shrink the bound: unknown size. */
    *n = rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER && x >= 0 ? (size_t)x : SIZE_MAX;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int rd_overlap(void *ctx, int64_t id, size_t size, const int64_t *q, size_t nq, size_t *ov) {
    lake_reader *r = ctx;
    int rc = SQLITE_OK;
    *ov = 0;
    if (r->set) {
        /* One blob read and a merge in memory: ~100x cheaper than stepping through rows. */
        sqlite3_reset(r->set);
        sqlite3_bind_int64(r->set, 1, id);
        rc = sqlite3_step(r->set);
        if (rc == SQLITE_ROW) {
            const unsigned char *b = sqlite3_column_blob(r->set, 0);
            size_t n = (size_t)sqlite3_column_bytes(r->set, 0) / 8, i = 0;
            if (!b && n) rc = SQLITE_NOMEM;
            for (size_t j = 0; b && i < nq && j < n; j++) {
                int64_t h = set_hash_at(b, j);
                while (i < nq && q[i] < h) i++;
                if (i < nq && q[i] == h) (*ov)++, i++;
            }
            sqlite3_reset(r->set);
            return rc == SQLITE_ROW ? SQLITE_OK : rc;
        }
        sqlite3_reset(r->set);
        if (rc != SQLITE_DONE) return rc;
        rc = SQLITE_OK; /* no blob for this column: read its rows below */
    }
    /* A scan reads the column's whole set in order; a probe is one B-tree seek per query
     * value, worth a few sequential steps: probe only columns much larger than the query. */
    if (size != SIZE_MAX && size / 4 > nq) {
        for (size_t i = 0; i < nq; i++) {
            sqlite3_reset(r->probe);
            sqlite3_bind_int64(r->probe, 1, q[i]);
            sqlite3_bind_int64(r->probe, 2, id);
            rc = sqlite3_step(r->probe);
            if (rc == SQLITE_ROW) (*ov)++;
            else if (rc != SQLITE_DONE) break;
            rc = SQLITE_OK;
        }
        sqlite3_reset(r->probe);
        return nq ? rc : SQLITE_OK;
    }
    sqlite3_reset(r->scan);
    sqlite3_bind_int64(r->scan, 1, id);
    size_t i = 0;
    while (i < nq && (rc = sqlite3_step(r->scan)) == SQLITE_ROW) {
        int64_t h = sqlite3_column_int64(r->scan, 0);
        while (i < nq && q[i] < h) i++;
        if (i < nq && q[i] == h) (*ov)++, i++;
    }
    if (i == nq) rc = SQLITE_OK; /* the rest of the column cannot match */
    sqlite3_reset(r->scan);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The (tbl, col) of column id, valid until the next call; SQLITE_DONE when it is gone. */
static int rd_name(lake_reader *r, sqlite3_int64 id, const char **tbl, const char **col) {
    if (r->sum) return silt_join_summary_name(r->sum, id, tbl, col) ? SQLITE_ROW : SQLITE_DONE;
    sqlite3_reset(r->name);
    sqlite3_bind_int64(r->name, 1, id);
    int rc = sqlite3_step(r->name);
    if (rc != SQLITE_ROW) return rc;
    *tbl = (const char *)sqlite3_column_text(r->name, 0);
    *col = (const char *)sqlite3_column_text(r->name, 1);
    return *tbl && *col ? SQLITE_ROW : SQLITE_NOMEM;
}

static int cmp_rows(const void *a, const void *b) {
    const join_row *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    if (x->containment != y->containment) return x->containment < y->containment ? 1 : -1;
    int t = strcmp(x->tbl, y->tbl);
    return t ? t : strcmp(x->col, y->col);
}

/* Is (tbl, col) of a stored row the query column itself? Names compare as SQLite does
 * (case-insensitively), and "main.t" equals "t". */
static int is_query_column(const char *stored_tbl, const char *col, const char *q_schema,
                           const char *q_table, const char *q_col) {
    if (sqlite3_stricmp(col, q_col) != 0) return 0;
    const char *dot = strchr(stored_tbl, '.');
    if (sqlite3_stricmp(stored_tbl, q_table) == 0 && sqlite3_stricmp(q_schema, "main") == 0) return 1;
    if (dot && sqlite3_strnicmp(stored_tbl, q_schema, (int)(dot - stored_tbl)) == 0 &&
        (int)strlen(q_schema) == (int)(dot - stored_tbl) && sqlite3_stricmp(dot + 1, q_table) == 0)
        return 1;
    return 0;
}

/* exact = 1: silt_colset_topk over the posting lists. The query column itself (possibly
 * indexed under two spellings, "t" and "main.t") is dropped afterwards, so the search asks
 * for a few more than k and asks again in the unlikely case that all of those were it. */
static int search_exact(join_cursor *c, lake_reader *rd, const silt_join_column *q, const char *schema,
                        const char *table, const char *qc, int k, int *cap) {
    silt_colset_source src = {rd, rd_list_len, rd_list, rd_size, rd_overlap};
    for (size_t extra = 4;; extra *= 4) {
        silt_colset_hit *hits = NULL;
        size_t n_hits = 0, dropped = 0;
        int rc = silt_colset_topk(&src, q->hashes, q->n_hashes, (size_t)k + extra, INT64_MIN, &hits, &n_hits, NULL);
        if (rc == SILT_COLSET_NOMEM) rc = SQLITE_NOMEM;
        for (size_t i = 0; rc == SQLITE_OK && i < n_hits && c->n_rows < k; i++) {
            const char *t, *col;
            rc = rd_name(rd, hits[i].id, &t, &col);
            if (rc != SQLITE_ROW) break;
            rc = SQLITE_OK;
            if (is_query_column(t, col, schema, table, qc)) {
                dropped++;
                continue;
            }
            double ct = (double)hits[i].overlap / (double)q->n_hashes;
            rc = push_row(c, cap, hits[i].id, t, col, ct, ct);
        }
        free(hits);
        if (rc != SQLITE_OK || c->n_rows == k || dropped < extra || n_hits < (size_t)k + extra) return rc;
        cursor_rows_free(c);
    }
}

/* The candidates of the equi and semantic modes, before verification. */
typedef struct {
    sqlite3_int64 id;
    size_t size; /* distinct values, SIZE_MAX when unknown */
    double sim;  /* embedding similarity; -2 (below any cosine) for rare-value candidates */
    size_t bound; /* upper bound of its overlap, min(size, |Q|), set before ranking */
    int known;    /* bound is the overlap itself (every query value's list was read) */
} cand_col;

typedef struct {
    cand_col *a;
    size_t n, cap;
    silt_rowid_map seen; /* ids in a */
} cand_list;

static void cand_list_free(cand_list *l) {
    sqlite3_free(l->a);
    silt_rowid_map_free(&l->seen);
    memset(l, 0, sizeof *l);
}

/* Adds column id unless it is already a candidate. */
static int cand_add(cand_list *l, sqlite3_int64 id, size_t size, double sim) {
    if (silt_rowid_map_get(&l->seen, id, NULL)) return SQLITE_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 128;
        cand_col *g = sqlite3_realloc64(l->a, cap * sizeof *g);
        if (!g) return SQLITE_NOMEM;
        l->a = g;
        l->cap = cap;
    }
    if (silt_rowid_map_put(&l->seen, id, 0)) return SQLITE_NOMEM;
    l->a[l->n++] = (cand_col){id, size, sim, size, 0};
    return SQLITE_OK;
}

/* Upper bound of the overlap first, then similarity, then id. */
static int cmp_by_bound(const void *a, const void *b) {
    const cand_col *x = a, *y = b;
    if (x->bound != y->bound) return x->bound > y->bound ? -1 : 1;
    if (x->sim != y->sim) return x->sim > y->sim ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int cmp_by_sim(const void *a, const void *b) {
    const cand_col *x = a, *y = b;
    if (x->sim != y->sim) return x->sim > y->sim ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Computes candidate x's overlap and, unless it is the query column (or, in equi, shares no
 * value or fewer than `least`), adds it to the rows. *added tells whether it did, *ov the
 * overlap. The name is read after the overlap, so that equi reads it (one seek) only for
 * candidates that can still enter the top k. */
static int verify_candidate(join_cursor *c, int *cap, lake_reader *rd, const silt_join_column *q, const char *schema,
                            const char *table, const char *qc, const cand_col *x, int semantic, size_t least,
                            int *added, size_t *ov) {
    const char *t, *col;
    *added = 0;
    *ov = 0;
    int rc = SQLITE_OK;
    if (x->known) *ov = x->bound;
    else if ((rc = rd_overlap(rd, x->id, x->size, q->hashes, q->n_hashes, ov)) != SQLITE_OK) return rc;
    if (!semantic && (*ov == 0 || *ov < least)) return SQLITE_OK; /* an equi-join needs a shared value */
    rc = rd_name(rd, x->id, &t, &col);
    if (rc == SQLITE_DONE) return SQLITE_OK; /* deleted under the ANN index's feet */
    if (rc != SQLITE_ROW) return rc;
    if (is_query_column(t, col, schema, table, qc)) return SQLITE_OK;
    double ct = (double)*ov / (double)q->n_hashes;
    *added = 1;
    /* equi rows carry similarity in `containment` until the sort (cmp_rows' second key). */
    return semantic ? push_row(c, cap, x->id, t, col, x->sim, ct) : push_row(c, cap, x->id, t, col, ct, x->sim);
}

/* The k best overlaps verified so far (a min-heap: top[0] is the k-th best once full). */
typedef struct {
    size_t *top; /* sqlite3_malloc'd, cap entries, grown up to k */
    size_t n, k, cap;
} best_k;

static int best_k_push(best_k *b, size_t ov) {
    if (b->n < b->k) {
        if (b->n == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 16;
            if (cap > b->k) cap = b->k;
            size_t *t = sqlite3_realloc64(b->top, cap * sizeof *t);
            if (!t) return SQLITE_NOMEM;
            b->top = t;
            b->cap = cap;
        }
        size_t j = b->n++; /* sift up */
        b->top[j] = ov;
        while (j > 0 && b->top[(j - 1) / 2] > b->top[j]) {
            size_t p = (j - 1) / 2, t = b->top[p];
            b->top[p] = b->top[j];
            b->top[j] = t;
            j = p;
        }
        return SQLITE_OK;
    }
    if (b->k == 0 || ov <= b->top[0]) return SQLITE_OK;
    b->top[0] = ov; /* sift down the new root */
    for (size_t j = 0;;) {
        size_t a = 2 * j + 1, c = a + 1, m = j;
        if (a < b->n && b->top[a] < b->top[m]) m = a;
        if (c < b->n && b->top[c] < b->top[m]) m = c;
        if (m == j) break;
        size_t t = b->top[m];
        b->top[m] = b->top[j];
        b->top[j] = t;
        j = m;
    }
    return SQLITE_OK;
}

/* equi: verifies candidates a[0..n) in order of their overlap's upper bound min(|X|, |Q|)
 * and stops once that bound falls below the k-th best overlap verified (here or by an
 * earlier call with the same heap), since no candidate left can enter the top k; the
 * result equals verifying them all. */
static int rank_equi(join_cursor *c, int *cap, lake_reader *rd, const silt_join_column *q, const char *schema,
                     const char *table, const char *qc, cand_col *a, size_t n, best_k *best) {
    for (size_t i = 0; i < n; i++)
        if (a[i].bound > q->n_hashes) a[i].bound = q->n_hashes;
    if (n > 1) qsort(a, n, sizeof *a, cmp_by_bound);
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        int full = best->n == best->k && best->k;
        if (full && a[i].bound < best->top[0]) break;
        int added;
        size_t ov;
        /* Below the k-th best overlap a candidate cannot be returned; a tie still can. */
        rc = verify_candidate(c, cap, rd, q, schema, table, qc, &a[i], 0, full ? best->top[0] : 0, &added, &ov);
        if (rc == SQLITE_OK && added) rc = best_k_push(best, ov);
    }
    return rc;
}

/* semantic: the k most similar candidates, each with its exact containment. */
static int rank_semantic(join_cursor *c, int *cap, lake_reader *rd, const silt_join_column *q, const char *schema,
                         const char *table, const char *qc, cand_list *l, int k) {
    if (l->n > 1) qsort(l->a, l->n, sizeof *l->a, cmp_by_sim);
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < l->n && c->n_rows < k; i++) {
        int added;
        size_t ov;
        rc = verify_candidate(c, cap, rd, q, schema, table, qc, &l->a[i], 1, 0, &added, &ov);
    }
    return rc;
}

typedef struct {
    sqlite3_int64 id, count;
} col_count;

static int cmp_count(const void *a, const void *b) {
    const col_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The equi mode's second source of candidates, which the embedding misses when a column's
 * text says little about its values (numbers, codes): the columns that hold the most of the
 * query's rarest values. Looks up the list lengths of up to RARE_SAMPLE query values (hashes
 * are in random order, so the first ones are a uniform sample), takes the lists of the
 * query's values in the in-memory sample (the values of the smallest hashes: the same rule
 * for every column, so the count of a column there estimates its containment, in LSH
 * Ensemble's spirit) up to SAMPLE_POSTINGS entries, then reads the shortest other lists from
 * the table up to RARE_POSTINGS entries and RARE_LISTS_AFTER_SAMPLE lists (RARE_LISTS_SMALL
 * when the sample held few of the query's values), and adds the n_best columns seen most
 * often.
 * The lists read also bound every candidate's overlap (JOSIE's prefix filter): a column seen
 * c times in the r lists read entirely can share at most c + |Q| - r values with Q, so most
 * candidates of a query whose best matches overlap by much need not be verified; when every
 * query value's list was read (r = |Q|), c is the overlap and no set needs reading. */
static void tighten(cand_col *x, size_t bound, int exact) {
    if (bound <= x->bound) x->bound = bound, x->known = exact;
}

/* What the rare-value lists tell about columns that are not candidates, for the ANN step. */
typedef struct {
    int32_t *slot;        /* the reader's slot array (n_slot entries), or NULL: then count */
    size_t n_slot;
    silt_rowid_map count; /* column id -> index in counts, without slot */
    col_count *counts;    /* every column seen in the lists read, with its count */
    size_t n_counts;
    size_t unread;        /* query values whose lists were not read */
    int complete;         /* every column seen has its count (else no bound holds) */
    size_t outside;       /* bound of the overlap of any column that is not a candidate */
    size_t sampled_read;  /* the sample's lists counted (query values in the sample) */
} rare_info;

/* Sets *at to column id's index in ri->counts; 0 when it has none. */
static int ri_index(const rare_info *ri, int64_t id, int64_t *at) {
    if (!ri->slot) return silt_rowid_map_get(&ri->count, id, at);
    if (id < 0 || (uint64_t)id >= ri->n_slot || ri->slot[id] < 0) return 0;
    *at = ri->slot[id];
    return 1;
}

/* Gives the reader's slot array back as it found it (all -1), and frees the rest. */
static void ri_free(rare_info *ri) {
    for (size_t i = 0; ri->slot && i < ri->n_counts; i++) ri->slot[ri->counts[i].id] = -1;
    silt_rowid_map_free(&ri->count);
    sqlite3_free(ri->counts);
    memset(ri, 0, sizeof *ri);
}

/* A column's overlap bound from the lists read: its count plus the lists not read. */
static void rare_tighten(const rare_info *ri, cand_col *x) {
    if (!ri->complete) return;
    int64_t n;
    tighten(x, (ri_index(ri, x->id, &n) ? (size_t)ri->counts[n].count : 0) + ri->unread,
            ri->unread == 0);
}

typedef struct {
    size_t len;
    int64_t h;
    int mem;  /* its list is in the in-memory sample */
    int done; /* its list was counted */
} rare_pick;

static int cmp_pick(const void *a, const void *b) {
    const rare_pick *x = a, *y = b;
    if (x->mem != y->mem) return x->mem ? -1 : 1;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->h > y->h) - (x->h < y->h);
}

/* A count's histogram bin: counts cannot exceed the lists read, but a bin past them keeps a
 * damaged lake's postings (a column listed twice in one list) in range. */
static size_t count_bin(sqlite3_int64 c, size_t max) { return c >= 0 && (size_t)c <= max ? (size_t)c : max + 1; }

static int add_rare_candidates(lake_reader *rd, const silt_join_column *q, cand_list *l, int n_best, rare_info *ri) {
    /* The query's sampled values are the prefix of its sorted hashes below the threshold. */
    size_t ns = 0;
    if (rd->sum && rd->sum->has_sample)
        while (ns < q->n_hashes && q->hashes[ns] < SILT_JOIN_SAMPLE_TAU) ns++;
    size_t n = q->n_hashes < RARE_SAMPLE ? q->n_hashes : RARE_SAMPLE;
    if (n < ns) n = ns;
    size_t mem_budget = ns ? SAMPLE_POSTINGS : 0, bt_budget = RARE_POSTINGS;
    /* With enough sampled values the sample finds the large overlaps and few seeks remain
     * worth their cost; a query with fewer (a small column) reads more of its rarest lists. */
    size_t bt_lists = ns >= SAMPLE_DECIDES ? RARE_LISTS_AFTER_SAMPLE : RARE_LISTS_SMALL;
    size_t cap_counts = mem_budget + bt_budget + REST_POSTINGS;
    rare_pick *vals = sqlite3_malloc64((n ? n : 1) * sizeof *vals);
    col_count *counts = NULL, *top = NULL;
    int64_t *ids = NULL;
    size_t n_ids = 0, cap_ids = 0, n_counts = 0, read_mem = 0, read_bt = 0, lists_read = 0, bt_read = 0;
    int complete = 1; /* every column seen in the lists read has its count */
    ri->slot = rd->sum ? rd->slot : NULL;
    ri->n_slot = ri->slot ? rd->sum->n_ids : 0;
    int rc = vals ? SQLITE_OK : SQLITE_NOMEM;
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        vals[i].h = q->hashes[i];
        vals[i].mem = i < ns;
        vals[i].done = 0;
        rc = rd_list_len(rd, q->hashes[i], &vals[i].len);
    }
    if (rc == SQLITE_OK) qsort(vals, n, sizeof *vals, cmp_pick);
    /* Pass 0 reads within the budgets above. Pass 1 reads every list left when the embedding
     * would otherwise be searched and what is left is short (REST_*): then every count is an
     * overlap, no set needs reading, and the lists bound every other column exactly. */
    for (int pass = 0; rc == SQLITE_OK && pass < 2; pass++) {
        if (pass == 1) {
            size_t rest = 0, rest_lists = 0;
            for (size_t i = 0; i < n; i++)
                if (!vals[i].done) rest += vals[i].len, rest_lists++;
            if (ri->sampled_read >= SAMPLE_SKIPS_ANN || n < q->n_hashes || !rest_lists || rest > REST_POSTINGS ||
                rest_lists > REST_LISTS)
                break;
        }
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        const uint32_t *mids = NULL;
        size_t m = 0;
        if (vals[i].done) continue;
        if (vals[i].len == 0) { /* no column holds it (lengths are exact): nothing to read */
            vals[i].done = 1;
            lists_read++;
            continue;
        }
        if (vals[i].mem) {
            if (pass == 0 && read_mem + vals[i].len > mem_budget) continue;
            if (pass == 0) ri->sampled_read++;
            silt_join_summary_sample_list(rd->sum, vals[i].h, &mids, &m);
            read_mem += m;
        } else {
            if (pass == 0 && (read_bt + vals[i].len > bt_budget || bt_read >= bt_lists)) break;
            if ((rc = rd_list(rd, vals[i].h, &ids, &n_ids, &cap_ids)) != SQLITE_OK) break;
            m = n_ids;
            read_bt += n_ids;
            bt_read++;
        }
        vals[i].done = 1;
        lists_read++;
        if (!counts && !(counts = ri->counts = sqlite3_malloc64(cap_counts * sizeof *counts))) rc = SQLITE_NOMEM;
        for (size_t j = 0; rc == SQLITE_OK && j < m; j++) {
            int64_t at, id = mids ? (int64_t)mids[j] : ids[j];
            if (ri_index(ri, id, &at)) counts[at].count++;
            else if (n_counts < cap_counts && (!ri->slot || (id >= 0 && (uint64_t)id < ri->n_slot))) {
                counts[n_counts] = (col_count){id, 1};
                if (ri->slot) ri->slot[id] = (int32_t)n_counts;
                else if (silt_rowid_map_put(&ri->count, id, (int64_t)n_counts)) rc = SQLITE_NOMEM;
                if (rc == SQLITE_OK) ri->n_counts = ++n_counts;
            } else {
                /* Lists longer than <t>_df said, or a column id past <t>_cols' (a damaged
                 * lake): some counts are missing. */
                complete = 0;
            }
        }
    }
    }
    /* Every read list was read whole (rd_list returns all of it), so counts are exact. */
    size_t unread = q->n_hashes - lists_read;
    ri->unread = unread;
    ri->complete = complete;
    ri->outside = unread;
    if (rc == SQLITE_OK && n_counts) {
        /* Only the n_best largest counts (and the largest one after them) are needed in
         * order: a histogram of the counts (at most lists_read) finds the threshold, so one
         * pass picks them and only those are sorted (sorting all of them, up to ~20,000
         * with the sample's lists, was a fifth of this function's time). Ties at the
         * threshold are taken in the order the lists met them. */
        size_t want = n_counts < (size_t)n_best + 1 ? n_counts : (size_t)n_best + 1, n_top = 0;
        size_t *hist = sqlite3_malloc64((lists_read + 2) * sizeof *hist);
        top = sqlite3_malloc64(want * sizeof *top);
        if (!hist || !top) rc = SQLITE_NOMEM;
        size_t thr = 0, above = 0, at_thr = 0;
        if (rc == SQLITE_OK) {
            memset(hist, 0, (lists_read + 2) * sizeof *hist);
            for (size_t i = 0; i < n_counts; i++) hist[count_bin(counts[i].count, lists_read)]++;
            thr = lists_read + 1;
            while (thr > 0 && above + hist[thr] < want) above += hist[thr--];
            at_thr = want - above;
            for (size_t i = 0; i < n_counts && n_top < want; i++) {
                size_t x = count_bin(counts[i].count, lists_read);
                if (x > thr || (x == thr && at_thr && at_thr--)) top[n_top++] = counts[i];
            }
            qsort(top, n_top, sizeof *top, cmp_count);
        }
        sqlite3_free(hist);
        /* ri's counts and index stay for rare_tighten until the search ends (ri_free). */
        for (size_t i = 0; rc == SQLITE_OK && i < n_top && (int)i < n_best; i++) {
            size_t size, before = l->n;
            rc = rd_size(rd, top[i].id, &size);
            if (rc == SQLITE_OK) rc = cand_add(l, top[i].id, size, -2.0);
            if (rc == SQLITE_OK && l->n > before) rare_tighten(ri, &l->a[l->n - 1]);
        }
        /* top is sorted: the first one not taken bounds every column seen but not taken. */
        if (rc == SQLITE_OK && n_top > (size_t)n_best) ri->outside += (size_t)top[n_best].count;
    }
    sqlite3_free(top);
    sqlite3_free(vals);
    free(ids);
    return rc;
}

/* The query column's embedding without the encoder, when the column is indexed under the
 * name (qt, qc) and its stored digest says it was embedded from this very text by this
 * model (the table is unchanged since): then the stored vector is what the encoder would
 * return now. Sets *found; a missing or different digest (a changed table, or one indexed
 * before digests were kept) leaves it 0 and the caller embeds the text. */
static int stored_embedding(join_vtab *v, lake_reader *rd, const char *qt, const char *qc, const char *text,
                            size_t len, float *out, int *found) {
    *found = 0;
    sqlite3_stmt *st = rd->stored;
    if (!st) return SQLITE_OK;
    unsigned char d[32];
    text_digest(v, text, len, d);
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, qt, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, qc, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, d, (int)sizeof d, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        size_t bytes = sizeof(float) * (size_t)v->enc->dim;
        if (b && (size_t)sqlite3_column_bytes(st, 0) == bytes) {
            memcpy(out, b, bytes);
            *found = 1;
        }
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int search(join_vtab *v, join_cursor *c, const char *qt, const char *qc, int k, int exact,
                  int semantic) {
    char *schema = NULL, *table = NULL, *err = NULL;
    silt_join_column q;
    memset(&q, 0, sizeof q);
    lake_reader local, *rd = NULL;
    memset(&local, 0, sizeof local);
    cand_list cands;
    memset(&cands, 0, sizeof cands);
    sqlite3_stmt *st;
    float *emb = NULL;
    char *text = NULL;
    int cap = 0;
    rare_info ri;
    memset(&ri, 0, sizeof ri);
    best_k best = {NULL, 0, 0, 0};
    size_t n_rare = 0; /* cands.a[0..n_rare) came from the rare-value lists */
    int rc = split_table(v->db, qt, &schema, &table);
    if (rc != SQLITE_OK) goto done;
    rc = silt_join_column_read(v->db, schema, table, qc, SILT_JOIN_READ_FAST, &q, &err);
    if (rc != SQLITE_OK) goto done;
    if (q.n_hashes == 0) {
        err = sqlite3_mprintf("silt_join: query column %s.%s has no non-empty values", qt, qc);
        rc = SQLITE_ERROR;
        goto done;
    }
    if ((rc = reader_get(v, &local, &rd)) != SQLITE_OK) goto done;
    if ((rc = summary_attach(v, rd)) != SQLITE_OK) goto done;
    if (exact) {
        rc = search_exact(c, rd, &q, schema, table, qc, k, &cap);
        goto done; /* rows come sorted by containment, then id */
    }
    if (!semantic) {
        /* The rare-value candidates first: when the k-th best overlap among them beats the
         * bound of every other column (the lists read bound those too), no column the
         * embedding could add can enter the top k, and the encoder and ANN index are not
         * needed (on the 100,000-column benchmark lake, for 43% of the queries). Nor are
         * they when the sample's counts covered SAMPLE_SKIPS_ANN query values. */
        best.k = (size_t)k;
        int n_best = k > RARE_MIN_CANDIDATES / RARE_CANDIDATES_PER_K ? k * RARE_CANDIDATES_PER_K : RARE_MIN_CANDIDATES;
        rc = add_rare_candidates(rd, &q, &cands, n_best, &ri);
        if (rc == SQLITE_OK) rc = rank_equi(c, &cap, rd, &q, schema, table, qc, cands.a, cands.n, &best);
        if (rc != SQLITE_OK) goto done;
        n_rare = cands.n;
        if (ri.complete && best.n == best.k && best.top[0] > ri.outside) goto ranked;
        if (ri.complete && ri.outside == 0) goto ranked; /* no other column shares a value */
        if (ri.sampled_read >= SAMPLE_SKIPS_ANN) goto ranked;
    }
    text = column_text(table, qc, &q, MAX_TEXT_BYTES);
    emb = sqlite3_malloc64(sizeof(float) * (sqlite3_uint64)v->enc->dim);
    if (!text || !emb) {
        rc = SQLITE_NOMEM;
        goto done;
    }
    const char *texts[1] = {text};
    size_t lens[1] = {strlen(text)};
    char *eerr = NULL;
    int reused = 0;
    if ((rc = stored_embedding(v, rd, qt, qc, text, lens[0], emb, &reused)) != SQLITE_OK) goto done;
    if (!reused && silt_embed_texts(v->enc, texts, lens, 1, 1, emb, &eerr)) {
        err = sqlite3_mprintf("silt_join: embedding the query column: %s", eerr ? eerr : "failed");
        free(eerr);
        rc = SQLITE_ERROR;
        goto done;
    }
    int per_k = semantic ? EMBED_CANDIDATES_PER_K : EQUI_EMBED_CANDIDATES_PER_K;
    int least = semantic ? MIN_CANDIDATES : EQUI_MIN_CANDIDATES;
    int n_cand = k * per_k > least ? k * per_k : least;
    st = rd->knn;
    sqlite3_reset(st);
    sqlite3_bind_blob(st, 1, emb, (int)(sizeof(float) * (size_t)v->enc->dim), SQLITE_STATIC);
    sqlite3_bind_int(st, 2, n_cand);
    sqlite3_bind_int(st, 3, semantic ? SEMANTIC_EF_SEARCH : EQUI_EF_SEARCH);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(st, 0);
        double sim = 1.0 - sqlite3_column_double(st, 1);
        if (silt_rowid_map_get(&cands.seen, id, NULL)) {
            /* A rare-value candidate: its row, if any, takes the similarity as tie-break. */
            for (int i = 0; i < c->n_rows; i++)
                if (c->rows[i].id == id) c->rows[i].containment = sim;
            continue;
        }
        size_t size;
        if ((rc = rd_size(rd, id, &size)) != SQLITE_OK) break;
        if ((rc = cand_add(&cands, id, size, sim)) != SQLITE_OK) break;
        rare_tighten(&ri, &cands.a[cands.n - 1]);
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    sqlite3_reset(st);
    if (rc == SQLITE_OK)
        rc = semantic ? rank_semantic(c, &cap, rd, &q, schema, table, qc, &cands, k)
                      : rank_equi(c, &cap, rd, &q, schema, table, qc, cands.a + n_rare, cands.n - n_rare, &best);
    if (rc != SQLITE_OK) goto done;
ranked:
    /* equi: rank by containment, ties by similarity (cmp_rows' second key; the columns the
     * embedding did not return, or all when it was not searched, come after, by name). */
    if (c->n_rows > 1) qsort(c->rows, (size_t)c->n_rows, sizeof *c->rows, cmp_rows);
    if (!semantic) /* the second key carried similarity; report containment */
        for (int i = 0; i < c->n_rows; i++) c->rows[i].containment = c->rows[i].score;
    while (c->n_rows > k) {
        c->n_rows--;
        sqlite3_free(c->rows[c->n_rows].tbl);
        sqlite3_free(c->rows[c->n_rows].col);
    }
done:
    if (rc != SQLITE_OK) {
        sqlite3_free(v->base.zErrMsg);
        v->base.zErrMsg = err ? err : sqlite3_mprintf("silt_join: %s", sqlite3_errmsg(v->db));
        err = NULL;
    }
    sqlite3_free(err);
    reader_put(v, rd);
    cand_list_free(&cands);
    ri_free(&ri);
    sqlite3_free(best.top);
    sqlite3_free(emb);
    free(text);
    silt_join_column_free(&q);
    sqlite3_free(schema);
    sqlite3_free(table);
    return rc;
}

static int join_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                       sqlite3_value **argv) {
    (void)idx_str;
    join_cursor *c = (join_cursor *)cur;
    join_vtab *v = (join_vtab *)cur->pVtab;
    cursor_reset(c);
    sqlite3_value *a[N_ARGS] = {0};
    int j = 0;
    for (int i = 0; i < N_ARGS; i++)
        if (idx_num & (1 << i)) {
            if (j >= argc) return SQLITE_ERROR;
            a[i] = argv[j++];
            c->args[i] = sqlite3_value_dup(a[i]);
        }
    c->is_search = (idx_num & 3) == 3;
    if (!c->is_search) {
        if (idx_num & 3) {
            set_err(&v->base, "silt_join: a query needs both query_table and query_column");
            return SQLITE_ERROR;
        }
        return full_scan(v, c);
    }
    const char *qt = (const char *)sqlite3_value_text(a[0]);
    const char *qc = (const char *)sqlite3_value_text(a[1]);
    if (!qt || !qc || !*qt || !*qc) {
        set_err(&v->base, "silt_join: query_table and query_column must be non-empty texts");
        return SQLITE_ERROR;
    }
    sqlite3_int64 k = DEFAULT_K;
    if (a[2]) {
        if (sqlite3_value_type(a[2]) != SQLITE_INTEGER || (k = sqlite3_value_int64(a[2])) <= 0 ||
            k > 1000000) {
            set_err(&v->base, "silt_join: k must be an integer from 1 to 1000000, got %s",
                    sqlite3_value_text(a[2]) ? (const char *)sqlite3_value_text(a[2]) : "NULL");
            return SQLITE_ERROR;
        }
    }
    int exact = 0;
    if (a[3]) {
        if (sqlite3_value_type(a[3]) != SQLITE_INTEGER ||
            (sqlite3_value_int64(a[3]) != 0 && sqlite3_value_int64(a[3]) != 1)) {
            set_err(&v->base, "silt_join: exact must be 0 or 1");
            return SQLITE_ERROR;
        }
        exact = sqlite3_value_int(a[3]);
    }
    int semantic = 0;
    if (a[4]) {
        const char *m = (const char *)sqlite3_value_text(a[4]);
        if (m && sqlite3_stricmp(m, "semantic") == 0) semantic = 1;
        else if (!m || sqlite3_stricmp(m, "equi") != 0) {
            set_err(&v->base, "silt_join: mode must be 'equi' or 'semantic', got '%s'", m ? m : "NULL");
            return SQLITE_ERROR;
        }
    }
    if (exact && semantic) {
        set_err(&v->base, "silt_join: exact = 1 ranks by containment; it cannot be combined with mode 'semantic'");
        return SQLITE_ERROR;
    }
    return search(v, c, qt, qc, (int)k, exact, semantic);
}

static int join_next(sqlite3_vtab_cursor *cur) {
    ((join_cursor *)cur)->i++;
    return SQLITE_OK;
}

static int join_eof(sqlite3_vtab_cursor *cur) {
    join_cursor *c = (join_cursor *)cur;
    return c->i >= c->n_rows;
}

static int join_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
    join_cursor *c = (join_cursor *)cur;
    const join_row *r = &c->rows[c->i];
    switch (col) {
    case C_TBL: sqlite3_result_text(ctx, r->tbl, -1, SQLITE_TRANSIENT); break;
    case C_COL: sqlite3_result_text(ctx, r->col, -1, SQLITE_TRANSIENT); break;
    case C_SCORE:
        if (c->is_search) sqlite3_result_double(ctx, r->score);
        break;
    case C_CONTAINMENT:
        if (c->is_search) sqlite3_result_double(ctx, r->containment);
        break;
    case C_QTABLE: case C_QCOLUMN: case C_K: case C_EXACT: case C_MODE:
        if (c->args[col - C_QTABLE]) sqlite3_result_value(ctx, c->args[col - C_QTABLE]);
        break;
    default: break;
    }
    return SQLITE_OK;
}

static int join_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
    join_cursor *c = (join_cursor *)cur;
    *rowid = c->rows[c->i].id;
    return SQLITE_OK;
}

/* ---- writes ------------------------------------------------------------------------ */

static int delete_column(join_vtab *v, sqlite3_int64 id, char **err) {
    int df = 0, rc = has_shadow(v, "df", &df);
    if (rc == SQLITE_OK && df) /* the column's values leave their posting lists */
        rc = exec_fmt(v->db, err,
                      "UPDATE \"%w\".\"%w_df\" SET n = n - 1 WHERE h IN "
                      "(SELECT h FROM \"%w\".\"%w_values\" WHERE col_id = %lld);"
                      "DELETE FROM \"%w\".\"%w_df\" WHERE n <= 0 AND h IN "
                      "(SELECT h FROM \"%w\".\"%w_values\" WHERE col_id = %lld);",
                      v->schema, v->name, v->schema, v->name, (long long)id, v->schema, v->name, v->schema,
                      v->name, (long long)id);
    int sets = 0;
    if (rc == SQLITE_OK) rc = has_shadow(v, "sets", &sets);
    if (rc == SQLITE_OK && sets)
        rc = exec_fmt(v->db, err, "DELETE FROM \"%w\".\"%w_sets\" WHERE id = %lld;", v->schema, v->name, (long long)id);
    int digests = 0;
    if (rc == SQLITE_OK) rc = has_shadow(v, "digests", &digests);
    if (rc == SQLITE_OK && digests)
        rc = exec_fmt(v->db, err, "DELETE FROM \"%w\".\"%w_digests\" WHERE id = %lld;", v->schema, v->name,
                      (long long)id);
    if (rc != SQLITE_OK) return rc;
    return exec_fmt(v->db, err,
                    "DELETE FROM \"%w\".\"%w_values\" WHERE col_id = %lld;"
                    "DELETE FROM \"%w\".\"%w_cols\" WHERE id = %lld;"
                    "DELETE FROM \"%w\".\"%w_vec\" WHERE rowid = %lld;",
                    v->schema, v->name, (long long)id, v->schema, v->name, (long long)id, v->schema,
                    v->name, (long long)id);
}

/* Indexes the columns cols[0..n) of the table named tbl (as the user gave it). Existing
 * entries for the same (tbl, col) are replaced. */
static int index_columns(join_vtab *v, const char *tbl, char **cols, int n, sqlite3_int64 *last_id,
                         char **err) {
    char *schema = NULL, *table = NULL;
    int rc = split_table(v->db, tbl, &schema, &table);
    if (rc != SQLITE_OK) return rc;
    char **texts = sqlite3_malloc64((sqlite3_uint64)n * sizeof *texts);
    size_t *lens = sqlite3_malloc64((sqlite3_uint64)n * sizeof *lens);
    sqlite3_int64 *ids = sqlite3_malloc64((sqlite3_uint64)n * sizeof *ids);
    float *emb = sqlite3_malloc64((sqlite3_uint64)n * (sqlite3_uint64)v->enc->dim * sizeof(float));
    sqlite3_stmt *ins_col = NULL, *ins_val = NULL, *ins_vec = NULL, *find = NULL, *ins_df = NULL, *ins_set = NULL,
                 *ins_digest = NULL;
    int df = 0, sets = 0, digests = 0;
    if (!texts || !lens || !ids || !emb) {
        rc = SQLITE_NOMEM;
        goto done;
    }
    memset(texts, 0, (size_t)n * sizeof *texts);
    char *sql;
#define PREP(stmt, ...)                                                                        \
    do {                                                                                       \
        sql = sqlite3_mprintf(__VA_ARGS__);                                                    \
        if (!sql) {                                                                            \
            rc = SQLITE_NOMEM;                                                                 \
            goto done;                                                                         \
        }                                                                                      \
        rc = sqlite3_prepare_v2(v->db, sql, -1, &stmt, NULL);                                  \
        sqlite3_free(sql);                                                                     \
        if (rc != SQLITE_OK) goto done;                                                        \
    } while (0)
    PREP(find, "SELECT id FROM \"%w\".\"%w_cols\" WHERE tbl = ?1 AND col = ?2", v->schema, v->name);
    PREP(ins_col, "INSERT INTO \"%w\".\"%w_cols\"(tbl, col, n_values, n_distinct) VALUES (?1, ?2, ?3, ?4)",
         v->schema, v->name);
    PREP(ins_val, "INSERT OR IGNORE INTO \"%w\".\"%w_values\"(h, col_id) VALUES (?1, ?2)", v->schema, v->name);
    PREP(ins_vec, "INSERT INTO \"%w\".\"%w_vec\"(rowid, embedding) VALUES (?1, ?2)", v->schema, v->name);
    if ((rc = has_shadow(v, "df", &df)) != SQLITE_OK) goto done;
    if (df)
        PREP(ins_df, "INSERT INTO \"%w\".\"%w_df\"(h, n) VALUES (?1, 1) ON CONFLICT(h) DO UPDATE SET n = n + 1",
             v->schema, v->name);
    if ((rc = has_shadow(v, "sets", &sets)) != SQLITE_OK) goto done;
    if (sets) PREP(ins_set, "INSERT INTO \"%w\".\"%w_sets\"(id, hashes) VALUES (?1, ?2)", v->schema, v->name);
    if ((rc = has_shadow(v, "digests", &digests)) != SQLITE_OK) goto done;
    if (digests)
        PREP(ins_digest, "INSERT INTO \"%w\".\"%w_digests\"(id, sha256) VALUES (?1, ?2)", v->schema, v->name);
#undef PREP
    for (int i = 0; i < n; i++) {
        silt_join_column cd;
        rc = silt_join_column_read(v->db, schema, table, cols[i], SILT_JOIN_READ_FAST, &cd, err);
        if (rc != SQLITE_OK) goto done;
        sqlite3_reset(find);
        sqlite3_bind_text(find, 1, tbl, -1, SQLITE_STATIC);
        sqlite3_bind_text(find, 2, cols[i], -1, SQLITE_STATIC);
        if (sqlite3_step(find) == SQLITE_ROW) {
            sqlite3_int64 old = sqlite3_column_int64(find, 0);
            sqlite3_reset(find);
            rc = delete_column(v, old, err);
            if (rc != SQLITE_OK) {
                silt_join_column_free(&cd);
                goto done;
            }
        }
        sqlite3_reset(find);
        sqlite3_reset(ins_col);
        sqlite3_bind_text(ins_col, 1, tbl, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_col, 2, cols[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins_col, 3, cd.n_rows);
        sqlite3_bind_int64(ins_col, 4, (sqlite3_int64)cd.n_hashes);
        rc = sqlite3_step(ins_col);
        if (rc != SQLITE_DONE) {
            silt_join_column_free(&cd);
            goto done;
        }
        ids[i] = sqlite3_last_insert_rowid(v->db);
        for (size_t j = 0; j < cd.n_hashes; j++) {
            sqlite3_reset(ins_val);
            sqlite3_bind_int64(ins_val, 1, cd.hashes[j]);
            sqlite3_bind_int64(ins_val, 2, ids[i]);
            if ((rc = sqlite3_step(ins_val)) != SQLITE_DONE) break;
            if (ins_df && sqlite3_changes(v->db) == 1) {
                sqlite3_reset(ins_df);
                sqlite3_bind_int64(ins_df, 1, cd.hashes[j]);
                if ((rc = sqlite3_step(ins_df)) != SQLITE_DONE) break;
            }
        }
        if (rc == SQLITE_DONE && ins_set) {
            unsigned char *blob = sqlite3_malloc64(cd.n_hashes * 8 + 1);
            if (!blob) rc = SQLITE_NOMEM;
            else {
                for (size_t j = 0; j < cd.n_hashes; j++) set_hash_put(blob, j, cd.hashes[j]);
                sqlite3_reset(ins_set);
                sqlite3_bind_int64(ins_set, 1, ids[i]);
                sqlite3_bind_blob64(ins_set, 2, blob, cd.n_hashes * 8, sqlite3_free);
                rc = sqlite3_step(ins_set);
            }
        }
        texts[i] = column_text(table, cols[i], &cd, MAX_TEXT_BYTES);
        silt_join_column_free(&cd);
        if (rc != SQLITE_DONE) goto done;
        if (!texts[i]) {
            rc = SQLITE_NOMEM;
            goto done;
        }
        lens[i] = strlen(texts[i]);
    }
    char *eerr = NULL;
    if (silt_embed_texts(v->enc, (const char *const *)texts, lens, n, 1, emb, &eerr)) {
        *err = sqlite3_mprintf("silt_join: embedding columns of %s: %s", tbl, eerr ? eerr : "failed");
        free(eerr);
        rc = SQLITE_ERROR;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        sqlite3_reset(ins_vec);
        sqlite3_bind_int64(ins_vec, 1, ids[i]);
        sqlite3_bind_blob(ins_vec, 2, emb + (size_t)i * (size_t)v->enc->dim,
                          (int)(sizeof(float) * (size_t)v->enc->dim), SQLITE_STATIC);
        if ((rc = sqlite3_step(ins_vec)) != SQLITE_DONE) goto done;
        if (ins_digest) {
            unsigned char d[32];
            text_digest(v, texts[i], lens[i], d);
            sqlite3_reset(ins_digest);
            sqlite3_bind_int64(ins_digest, 1, ids[i]);
            sqlite3_bind_blob(ins_digest, 2, d, (int)sizeof d, SQLITE_TRANSIENT);
            if ((rc = sqlite3_step(ins_digest)) != SQLITE_DONE) goto done;
        }
    }
    if (n) *last_id = ids[n - 1];
    rc = SQLITE_OK;
done:
    if (rc != SQLITE_OK && !*err) *err = sqlite3_mprintf("silt_join: indexing %s: %s", tbl, sqlite3_errmsg(v->db));
    for (int i = 0; texts && i < n; i++) free(texts[i]);
    sqlite3_free(texts);
    sqlite3_free(lens);
    sqlite3_free(ids);
    sqlite3_free(emb);
    sqlite3_finalize(find);
    sqlite3_finalize(ins_col);
    sqlite3_finalize(ins_val);
    sqlite3_finalize(ins_vec);
    sqlite3_finalize(ins_df);
    sqlite3_finalize(ins_set);
    sqlite3_finalize(ins_digest);
    sqlite3_free(schema);
    sqlite3_free(table);
    return rc == SQLITE_OK ? SQLITE_OK : SQLITE_ERROR;
}

/* The columns of tbl (all, or the one named), checked to exist. */
static int list_columns(join_vtab *v, const char *tbl, const char *only, char ***out, int *n, char **err) {
    char *schema = NULL, *table = NULL;
    int rc = split_table(v->db, tbl, &schema, &table);
    if (rc != SQLITE_OK) return rc;
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(v->db, "SELECT name FROM pragma_table_info(?1, ?2)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, schema, -1, SQLITE_STATIC);
        int cap = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            if (only && sqlite3_stricmp(name, only) != 0) continue;
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                char **g = sqlite3_realloc64(*out, (sqlite3_uint64)cap * sizeof *g);
                if (!g) {
                    rc = SQLITE_NOMEM;
                    break;
                }
                *out = g;
            }
            if (!((*out)[(*n)++] = sqlite3_mprintf("%s", name))) {
                rc = SQLITE_NOMEM;
                break;
            }
        }
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    if (rc == SQLITE_OK && *n == 0) {
        *err = only ? sqlite3_mprintf("silt_join: table %s has no column named %s", tbl, only)
                    : sqlite3_mprintf("silt_join: no such table: %s", tbl);
        rc = SQLITE_ERROR;
    }
    sqlite3_free(schema);
    sqlite3_free(table);
    return rc;
}

static void free_list(char **l, int n) {
    for (int i = 0; i < n; i++) sqlite3_free(l[i]);
    sqlite3_free(l);
}

static int run_command(join_vtab *v, const char *cmd) {
    char *err = NULL;
    int rc = SQLITE_OK;
    if (sqlite3_stricmp(cmd, "optimize") == 0) {
        rc = exec_fmt(v->db, &err, "INSERT INTO \"%w\".\"%w_vec\"(\"%w_vec\") VALUES ('optimize')",
                      v->schema, v->name, v->name);
    } else if (sqlite3_stricmp(cmd, "integrity-check") == 0) {
        rc = exec_fmt(v->db, &err, "INSERT INTO \"%w\".\"%w_vec\"(\"%w_vec\") VALUES ('integrity-check')",
                      v->schema, v->name, v->name);
        int df = 0, sets = 0, digests = 0;
        if (rc == SQLITE_OK) rc = has_shadow(v, "df", &df);
        if (rc == SQLITE_OK) rc = has_shadow(v, "sets", &sets);
        if (rc == SQLITE_OK) rc = has_shadow(v, "digests", &digests);
        if (rc == SQLITE_OK) {
            /* The 4th count: values whose posting list length in <t>_df is wrong or missing,
             * plus lengths kept for values no column holds. */
            char *df_sql = df ? sqlite3_mprintf(
                "(SELECT count(*) FROM (SELECT h, count(*) AS c FROM \"%w\".\"%w_values\" GROUP BY h) AS a"
                " LEFT JOIN \"%w\".\"%w_df\" AS d USING (h) WHERE d.n IS NOT a.c)"
                " + (SELECT count(*) FROM \"%w\".\"%w_df\" WHERE h NOT IN (SELECT h FROM \"%w\".\"%w_values\"))",
                v->schema, v->name, v->schema, v->name, v->schema, v->name, v->schema, v->name)
                              : sqlite3_mprintf("0");
            /* The 5th: columns whose hash blob is missing or of the wrong length, plus blobs of
             * columns that are gone. */
            char *sets_sql = sets ? sqlite3_mprintf(
                "(SELECT count(*) FROM \"%w\".\"%w_cols\" AS c LEFT JOIN \"%w\".\"%w_sets\" AS s ON s.id = c.id"
                " WHERE s.id IS NULL OR length(s.hashes) IS NOT 8 * c.n_distinct)"
                " + (SELECT count(*) FROM \"%w\".\"%w_sets\" WHERE id NOT IN (SELECT id FROM \"%w\".\"%w_cols\"))",
                v->schema, v->name, v->schema, v->name, v->schema, v->name, v->schema, v->name)
                                  : sqlite3_mprintf("0");
            /* The 6th: columns without a text digest, or with one of the wrong size, plus
             * digests of columns that are gone (a stale digest would only cost a re-embedding,
             * but a missing row means an insert went wrong). */
            char *dig_sql = digests ? sqlite3_mprintf(
                "(SELECT count(*) FROM \"%w\".\"%w_cols\" AS c LEFT JOIN \"%w\".\"%w_digests\" AS g ON g.id = c.id"
                " WHERE g.id IS NULL OR length(g.sha256) IS NOT 32)"
                " + (SELECT count(*) FROM \"%w\".\"%w_digests\" WHERE id NOT IN (SELECT id FROM \"%w\".\"%w_cols\"))",
                v->schema, v->name, v->schema, v->name, v->schema, v->name, v->schema, v->name)
                                    : sqlite3_mprintf("0");
            char *sql = df_sql && sets_sql && dig_sql ? sqlite3_mprintf(
                "SELECT (SELECT count(*) FROM \"%w\".\"%w_cols\") - (SELECT count(*) FROM \"%w\".\"%w_vec\"),"
                " (SELECT count(*) FROM \"%w\".\"%w_values\" WHERE col_id NOT IN (SELECT id FROM \"%w\".\"%w_cols\")),"
                " (SELECT count(*) FROM \"%w\".\"%w_cols\" c WHERE c.n_distinct <> (SELECT count(*) FROM \"%w\".\"%w_values\" p WHERE p.col_id = c.id)),"
                " %s, %s, %s",
                v->schema, v->name, v->schema, v->name, v->schema, v->name, v->schema, v->name,
                v->schema, v->name, v->schema, v->name, df_sql, sets_sql, dig_sql) : NULL;
            sqlite3_free(df_sql);
            sqlite3_free(sets_sql);
            sqlite3_free(dig_sql);
            sqlite3_stmt *st;
            if (!sql || sqlite3_prepare_v2(v->db, sql, -1, &st, NULL) != SQLITE_OK) rc = SQLITE_ERROR;
            else {
                if (sqlite3_step(st) == SQLITE_ROW &&
                    (sqlite3_column_int64(st, 0) || sqlite3_column_int64(st, 1) || sqlite3_column_int64(st, 2) ||
                     sqlite3_column_int64(st, 3) || sqlite3_column_int64(st, 4) || sqlite3_column_int64(st, 5))) {
                    err = sqlite3_mprintf("silt_join: integrity-check failed: %lld columns without an embedding,"
                                          " %lld orphan values, %lld columns with a wrong value count,"
                                          " %lld wrong posting list lengths, %lld wrong hash sets,"
                                          " %lld wrong text digests ('rebuild' repairs them)",
                                          sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                                          sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                                          sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5));
                    rc = SQLITE_CORRUPT_VTAB;
                }
                sqlite3_finalize(st);
            }
            sqlite3_free(sql);
        }
    } else if (sqlite3_stricmp(cmd, "rebuild") == 0) {
        /* Re-reads every indexed column from its table and embeds it again. The posting list
         * lengths are recounted first (and created for tables made before they existed). */
        rc = exec_fmt(v->db, &err,
                      "CREATE TABLE IF NOT EXISTS \"%w\".\"%w_df\"(h INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
                      "DELETE FROM \"%w\".\"%w_df\";"
                      "INSERT INTO \"%w\".\"%w_df\"(h, n) SELECT h, count(*) FROM \"%w\".\"%w_values\" GROUP BY h;"
                      "CREATE TABLE IF NOT EXISTS \"%w\".\"%w_sets\"(id INTEGER PRIMARY KEY, hashes BLOB NOT NULL);"
                      "CREATE TABLE IF NOT EXISTS \"%w\".\"%w_digests\"(id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL);",
                      v->schema, v->name, v->schema, v->name, v->schema, v->name, v->schema, v->name,
                      v->schema, v->name, v->schema, v->name);
        char *sql = sqlite3_mprintf("SELECT tbl, col FROM \"%w\".\"%w_cols\" ORDER BY id", v->schema, v->name);
        sqlite3_stmt *st;
        char **tbls = NULL, **cols = NULL;
        int n = 0, cap = 0;
        if (rc != SQLITE_OK) {
        } else if (!sql || sqlite3_prepare_v2(v->db, sql, -1, &st, NULL) != SQLITE_OK) {
            rc = SQLITE_ERROR;
        } else {
            while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    char **a = sqlite3_realloc64(tbls, (sqlite3_uint64)cap * sizeof *a);
                    if (a) tbls = a;
                    char **b = sqlite3_realloc64(cols, (sqlite3_uint64)cap * sizeof *b);
                    if (b) cols = b;
                    if (!a || !b) {
                        rc = SQLITE_NOMEM;
                        break;
                    }
                }
                tbls[n] = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
                cols[n] = sqlite3_mprintf("%s", sqlite3_column_text(st, 1));
                n++;
            }
            sqlite3_finalize(st);
        }
        sqlite3_free(sql);
        for (int i = 0; rc == SQLITE_OK && i < n; i++) {
            sqlite3_int64 id;
            rc = index_columns(v, tbls[i], &cols[i], 1, &id, &err);
        }
        free_list(tbls, n);
        free_list(cols, n);
    } else {
        set_err(&v->base, "silt_join: unknown command '%s' (expected 'optimize', 'rebuild' or 'integrity-check')", cmd);
        return SQLITE_ERROR;
    }
    if (rc != SQLITE_OK) {
        sqlite3_free(v->base.zErrMsg);
        v->base.zErrMsg = err ? err : sqlite3_mprintf("silt_join: %s failed: %s", cmd, sqlite3_errmsg(v->db));
        return rc == SQLITE_CORRUPT_VTAB ? SQLITE_ERROR : rc;
    }
    sqlite3_free(err);
    return SQLITE_OK;
}

static int join_update(sqlite3_vtab *tab, int argc, sqlite3_value **argv, sqlite3_int64 *rowid) {
    join_vtab *v = (join_vtab *)tab;
    char *err = NULL;
    v->wrote = 1; /* even a failed write may have changed rows before its statement rolls back */
    if (!v->reader_busy) summary_drop(v); /* else the next search drops it (wrote) */
    if (argc == 1) {
        int rc = delete_column(v, sqlite3_value_int64(argv[0]), &err);
        if (rc != SQLITE_OK) {
            sqlite3_free(tab->zErrMsg);
            tab->zErrMsg = err;
        }
        return rc;
    }
    if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
        set_err(tab, "silt_join: UPDATE is not supported; DELETE the column and INSERT it again");
        return SQLITE_ERROR;
    }
    sqlite3_value **col = argv + 2;
    if (sqlite3_value_type(col[C_CMD]) != SQLITE_NULL)
        return run_command(v, (const char *)sqlite3_value_text(col[C_CMD]));
    for (int i = C_SCORE; i < C_CMD; i++)
        if (sqlite3_value_type(col[i]) != SQLITE_NULL) {
            set_err(tab, "silt_join: only tbl and col can be inserted");
            return SQLITE_ERROR;
        }
    if (sqlite3_value_type(col[C_TBL]) != SQLITE_TEXT) {
        set_err(tab, "silt_join: INSERT needs tbl, the name of a table (text)");
        return SQLITE_ERROR;
    }
    if (sqlite3_value_type(col[C_COL]) != SQLITE_NULL && sqlite3_value_type(col[C_COL]) != SQLITE_TEXT) {
        set_err(tab, "silt_join: col must be a column name (text) or NULL for every column");
        return SQLITE_ERROR;
    }
    const char *tbl = (const char *)sqlite3_value_text(col[C_TBL]);
    const char *only = (const char *)sqlite3_value_text(col[C_COL]);
    char **cols;
    int n;
    int rc = list_columns(v, tbl, only, &cols, &n, &err);
    if (rc == SQLITE_OK) {
        rc = index_columns(v, tbl, cols, n, rowid, &err);
        free_list(cols, n);
    }
    if (rc != SQLITE_OK) {
        sqlite3_free(tab->zErrMsg);
        tab->zErrMsg = err ? err : sqlite3_mprintf("silt_join: %s", sqlite3_errmsg(v->db));
        return SQLITE_ERROR;
    }
    sqlite3_free(err);
    return SQLITE_OK;
}

/* ---- rename, destroy --------------------------------------------------------------- */

static int join_rename(sqlite3_vtab *tab, const char *new_name) {
    join_vtab *v = (join_vtab *)tab;
    char *err = NULL;
    reader_drop(v); /* its statements name the old tables */
    int rc = exec_fmt(v->db, &err,
                      "ALTER TABLE \"%w\".\"%w_cols\" RENAME TO \"%w_cols\";"
                      "ALTER TABLE \"%w\".\"%w_values\" RENAME TO \"%w_values\";"
                      "ALTER TABLE \"%w\".\"%w_vec\" RENAME TO \"%w_vec\";",
                      v->schema, v->name, new_name, v->schema, v->name, new_name, v->schema, v->name,
                      new_name);
    int df = 0;
    if (rc == SQLITE_OK) rc = has_shadow(v, "df", &df);
    if (rc == SQLITE_OK && df)
        rc = exec_fmt(v->db, &err, "ALTER TABLE \"%w\".\"%w_df\" RENAME TO \"%w_df\";", v->schema, v->name, new_name);
    int sets = 0;
    if (rc == SQLITE_OK) rc = has_shadow(v, "sets", &sets);
    if (rc == SQLITE_OK && sets)
        rc = exec_fmt(v->db, &err, "ALTER TABLE \"%w\".\"%w_sets\" RENAME TO \"%w_sets\";", v->schema, v->name,
                      new_name);
    int digests = 0;
    if (rc == SQLITE_OK) rc = has_shadow(v, "digests", &digests);
    if (rc == SQLITE_OK && digests)
        rc = exec_fmt(v->db, &err, "ALTER TABLE \"%w\".\"%w_digests\" RENAME TO \"%w_digests\";", v->schema,
                      v->name, new_name);
    if (rc != SQLITE_OK) {
        sqlite3_free(tab->zErrMsg);
        tab->zErrMsg = err;
        return rc;
    }
    char *n = sqlite3_mprintf("%s", new_name);
    if (!n) return SQLITE_NOMEM;
    sqlite3_free(v->name);
    v->name = n;
    return SQLITE_OK;
}

static int join_disconnect(sqlite3_vtab *tab) {
    join_vtab *v = (join_vtab *)tab;
    reader_drop(v);
    silt_model_release(v->enc);
    sqlite3_free(v->schema);
    sqlite3_free(v->name);
    sqlite3_free(v->model);
    sqlite3_free(v);
    return SQLITE_OK;
}

static int join_destroy(sqlite3_vtab *tab) {
    join_vtab *v = (join_vtab *)tab;
    char *err = NULL;
    reader_drop(v);
    int rc = exec_fmt(v->db, &err,
                      "DROP TABLE IF EXISTS \"%w\".\"%w_vec\";"
                      "DROP TABLE IF EXISTS \"%w\".\"%w_values\";"
                      "DROP TABLE IF EXISTS \"%w\".\"%w_df\";"
                      "DROP TABLE IF EXISTS \"%w\".\"%w_sets\";"
                      "DROP TABLE IF EXISTS \"%w\".\"%w_digests\";"
                      "DROP TABLE IF EXISTS \"%w\".\"%w_cols\";",
                      v->schema, v->name, v->schema, v->name, v->schema, v->name, v->schema, v->name,
                      v->schema, v->name, v->schema, v->name);
    if (rc != SQLITE_OK) {
        sqlite3_free(tab->zErrMsg);
        tab->zErrMsg = err;
        return rc;
    }
    return join_disconnect(tab);
}

static int join_shadow_name(const char *suffix) {
    return sqlite3_stricmp(suffix, "cols") == 0 || sqlite3_stricmp(suffix, "values") == 0 ||
           sqlite3_stricmp(suffix, "df") == 0 || sqlite3_stricmp(suffix, "sets") == 0 ||
           sqlite3_stricmp(suffix, "digests") == 0;
}

/* ---- silt_column_text(tbl, col [, max_tokens]) ------------------------------------- */

static void fn_column_text(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    sqlite3 *db = sqlite3_context_db_handle(ctx);
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) return;
    size_t max_bytes = MAX_TEXT_BYTES;
    sqlite3_int64 max_tokens = 0;
    if (argc == 3) {
        if (sqlite3_value_type(argv[2]) != SQLITE_INTEGER || (max_tokens = sqlite3_value_int64(argv[2])) <= 0) {
            sqlite3_result_error(ctx, "silt_column_text: max_tokens must be a positive integer", -1);
            return;
        }
    }
    char *schema, *table, *err = NULL;
    const char *tbl = (const char *)sqlite3_value_text(argv[0]);
    const char *col = (const char *)sqlite3_value_text(argv[1]);
    if (split_table(db, tbl, &schema, &table) != SQLITE_OK) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    silt_join_column cd;
    int rc = silt_join_column_read(db, schema, table, col, SILT_JOIN_READ_FAST, &cd, &err);
    if (rc == SQLITE_OK) {
        char *text = column_text(table, col, &cd, max_bytes);
        silt_join_column_free(&cd);
        if (!text) sqlite3_result_error_nomem(ctx);
        else {
            if (max_tokens > 0) {
                /* Cut after max_tokens whitespace-separated words. */
                sqlite3_int64 words = 0;
                char *p = text;
                while (*p) {
                    while (*p == ' ') p++;
                    if (!*p) break;
                    if (++words > max_tokens) {
                        while (p > text && p[-1] == ' ') p--;
                        *p = 0;
                        break;
                    }
                    while (*p && *p != ' ') p++;
                }
            }
            sqlite3_result_text(ctx, text, -1, SQLITE_TRANSIENT);
            free(text);
        }
    } else if (rc == SQLITE_NOMEM) {
        sqlite3_result_error_nomem(ctx);
    } else {
        sqlite3_result_error(ctx, err ? err : "silt_column_text: cannot read the column", -1);
    }
    sqlite3_free(err);
    sqlite3_free(schema);
    sqlite3_free(table);
}

static sqlite3_module join_module = {
    .iVersion = 3,
    .xCreate = join_create,
    .xConnect = join_connect,
    .xBestIndex = join_best_index,
    .xDisconnect = join_disconnect,
    .xDestroy = join_destroy,
    .xOpen = join_open,
    .xClose = join_close,
    .xFilter = join_filter,
    .xNext = join_next,
    .xEof = join_eof,
    .xColumn = join_column,
    .xRowid = join_rowid,
    .xUpdate = join_update,
    .xRename = join_rename,
    .xShadowName = join_shadow_name,
};

int silt_register_join(sqlite3 *db, char **err) {
    int rc = sqlite3_create_module(db, "silt_join", &join_module, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(db, "silt_column_text", 2, SQLITE_UTF8, NULL, fn_column_text, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(db, "silt_column_text", 3, SQLITE_UTF8, NULL, fn_column_text, NULL, NULL);
    if (rc != SQLITE_OK) *err = sqlite3_mprintf("silt: cannot register silt_join: %s", sqlite3_errmsg(db));
    return rc;
}
