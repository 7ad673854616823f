/* ingest_load.c: one file into one table (see ingest_load.h): provenance and change
 * detection, schema inference, table creation, and a fast streaming insert.
 *
 * Streaming with inference: the first records (option infer_rows, default 20,000, and at
 * most 32 MiB of text) are held in memory; the header and the column types are decided from
 * them, the table is created, and then every record is inserted as it arrives, never more
 * than a chunk of input in memory. A value after the sample that does not fit its column's
 * inferred type (a "n/a" in an INTEGER column) is stored as it is, as text: SQLite's type
 * affinity keeps it, typeof() shows it, and nothing is lost or rejected. Text the affinity
 * would turn into a number ("007") is the exception: the load is run again with that
 * column TEXT (needs_retype). The alternative,
 * spooling the whole file to a temporary file to infer over every row, would double the I/O
 * of every load for a case that a 20,000-row sample makes rare.
 *
 * Values: in INTEGER and REAL columns an empty field is NULL and numbers are bound as
 * numbers (not text for SQLite to convert); TEXT columns keep empty fields as ''; a column
 * with no value in the sample gets no declared type, and its later values are bound as what
 * they look like (NULL, number or text). Rows are
 * inserted through one prepared multi-row INSERT (up to 64 rows per statement), reused for
 * the whole file, inside a savepoint. */
#include "sqlext/ingest_load.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/err.h"
#include "core/heap_warm.h"
#include "ingest/fetch.h"
#include "ingest/infer.h"
#include "ingest/pipeline.h"
#include "ingest/progress.h"
#include "sqlext/pathguard.h"

/* Rows per INSERT statement (fewer when the columns would exceed the variable limit). */
#define LOAD_BATCH_ROWS 64

/* The schema a sample gives: header or not, column names and types. */
typedef struct decision {
    int header;
    size_t n_cols;
    char **cols;         /* malloc'd (silt_infer_names) */
    silt_coltype *types; /* malloc'd */
} decision;

/* Where a load is (on_records). */
enum { LOAD_WAIT, LOAD_EARLY, LOAD_STREAM };

typedef struct loader {
    sqlite3 *db;
    const silt_ingest_opts *o;
    const char *url;           /* normalised URL */
    const char *tbl;           /* target table (main schema) */
    int table_exists;          /* the table exists now (before: existed at start) */
    int prior;                 /* silt_sources has a row for (url, tbl) */
    int64_t prior_rows;        /* its rows */
    char *prior_sha;           /* its sha256 (sqlite3_malloc'd) */
    char *prior_etag;          /* its etag */
    char *prior_lm;            /* its last_modified */
    int unchanged;             /* the server said the source did not change */
    int phase;                 /* LOAD_WAIT, LOAD_EARLY or LOAD_STREAM (see on_records) */
    int no_early;              /* the early start failed: wait for the whole sample */
    const silt_batch **parts;  /* the sample's parts so far (valid until its end) */
    size_t n_parts, parts_cap;
    size_t first;              /* first record of parts[0] that is data */
    decision early;            /* the schema guessed from the first part */
    int early_existed;         /* the table existed before the early start */
    size_t n_cols;             /* columns of the file */
    char **cols;               /* target column per file column (malloc'd strings) */
    silt_coltype *types;       /* how values of each file column are bound */
    silt_colstats *st;         /* sample statistics per column (setup_table) */
    silt_colstats *acc_st;     /* statistics of the sample's parts so far (accumulate) */
    unsigned char *acc_ny;     /* their non_year flags */
    size_t acc_n, acc_cap;     /* columns counted, allocated */
    size_t acc_records;        /* records of the sample's parts so far */
    size_t acc_max_cols;       /* most fields in a record among the first infer_rows + 1 */
    unsigned char *non_year;   /* per column: the sample has a number that is not year-like */
    sqlite3_stmt *ins_batch;   /* INSERT of batch_rows rows */
    sqlite3_stmt *ins_one;     /* INSERT of one row */
    int batch_rows;            /* rows per ins_batch */
    int64_t n_loaded;          /* rows inserted */
    silt_format format;        /* detected format */
    silt_progress prog;        /* terminal progress line */
    int sqlite_rc;             /* SQLite error code behind a failure, or 0 */
    struct timespec t_tick;    /* last interrupt check */
    int appending;             /* the schema maps onto a table that existed (if_exists=append) */
    char *const *force_text;   /* columns an earlier attempt found must be TEXT (see retype) */
    size_t n_force_text;
    char **retype;             /* columns a later value showed must be TEXT (see needs_retype) */
    size_t n_retype;
    int checking;              /* a column needs TEXT: the rest is only checked, not inserted */
    int restart;               /* load_body failed only because columns need TEXT */
    sqlite3_stmt *probe;       /* SELECT ?1, for text_converts */
    int idle_steps;            /* on_idle calls so far */
    silt_heap_warm *warm;      /* heap faulted in while waiting for the first records */
} loader;

/* ---- small helpers ------------------------------------------------------------------- */

/* Records a SQLite failure: *err gets the message, L->sqlite_rc the code. Returns -1. */
static int sql_fail(loader *L, int rc, char **err, const char *what) {
    L->sqlite_rc = rc;
    return silt_err(err, "%s: %s", what, sqlite3_errmsg(L->db));
}

/* Runs one SQL statement built with sqlite3_mprintf-style fmt ("%w" quotes identifiers). */
static int exec_fmt(loader *L, char **err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *sql = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    if (!sql) {
        L->sqlite_rc = SQLITE_NOMEM;
        return silt_err(err, "out of memory");
    }
    char *msg = NULL;
    int rc = sqlite3_exec(L->db, sql, NULL, NULL, &msg);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        L->sqlite_rc = rc;
        silt_err(err, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static char *dup_col(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? sqlite3_mprintf("%s", t) : NULL;
}

static void free_cols(loader *L) {
    silt_infer_free_names(L->cols, L->n_cols);
    free(L->types);
    L->cols = NULL;
    L->types = NULL;
    L->n_cols = 0;
}

/* ---- schema -------------------------------------------------------------------------- */

typedef struct table_cols {
    char **names;        /* sqlite3_malloc'd */
    silt_coltype *types; /* affinity of each */
    int n;
} table_cols;

static void table_cols_free(table_cols *tc) {
    for (int i = 0; i < tc->n; i++) sqlite3_free(tc->names[i]);
    sqlite3_free(tc->names);
    sqlite3_free(tc->types);
    memset(tc, 0, sizeof *tc);
}

static int read_table_cols(loader *L, table_cols *tc, char **err) {
    memset(tc, 0, sizeof *tc);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(L->db, "SELECT name, type FROM pragma_table_info(?1, 'main')", -1,
                                &st, NULL);
    if (rc != SQLITE_OK) return sql_fail(L, rc, err, "reading the table's columns");
    sqlite3_bind_text(st, 1, L->tbl, -1, SQLITE_STATIC);
    int cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (tc->n == cap) {
            cap = cap ? cap * 2 : 16;
            char **n2 = sqlite3_realloc64(tc->names, (sqlite3_uint64)cap * sizeof *n2);
            if (n2) tc->names = n2;
            silt_coltype *t2 = sqlite3_realloc64(tc->types, (sqlite3_uint64)cap * sizeof *t2);
            if (t2) tc->types = t2;
            if (!n2 || !t2) {
                rc = SQLITE_NOMEM;
                break;
            }
        }
        tc->names[tc->n] = dup_col(st, 0);
        tc->types[tc->n] = silt_coltype_from_decl((const char *)sqlite3_column_text(st, 1));
        if (!tc->names[tc->n]) {
            rc = SQLITE_NOMEM;
            break;
        }
        tc->n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        table_cols_free(tc);
        L->sqlite_rc = rc;
        return silt_err(err, "reading the table's columns: %s", sqlite3_errstr(rc));
    }
    return 0;
}

static int find_col(const table_cols *tc, const char *name) {
    for (int i = 0; i < tc->n; i++)
        if (strcasecmp(tc->names[i], name) == 0) return i;
    return -1;
}

/* "a, b, c" for error messages (sqlite3_malloc'd). */
static char *list_cols(char *const *names, int n) {
    char *s = sqlite3_mprintf("%s", "");
    for (int i = 0; s && i < n; i++) {
        char *s2 = sqlite3_mprintf("%s%s%s", s, i ? ", " : "", names[i]);
        sqlite3_free(s);
        s = s2;
    }
    return s;
}

/* "INSERT INTO main."t"("a","b") VALUES (?,?),(?,?)..." with n_rows row tuples. */
static char *insert_sql(loader *L, int n_rows) {
    sqlite3_str *s = sqlite3_str_new(L->db);
    sqlite3_str_appendf(s, "INSERT INTO main.\"%w\"(", L->tbl);
    for (size_t j = 0; j < L->n_cols; j++) sqlite3_str_appendf(s, "%s\"%w\"", j ? "," : "", L->cols[j]);
    sqlite3_str_appendall(s, ") VALUES ");
    for (int i = 0; i < n_rows; i++) {
        sqlite3_str_appendall(s, i ? ",(" : "(");
        for (size_t j = 0; j < L->n_cols; j++) sqlite3_str_appendall(s, j ? ",?" : "?");
        sqlite3_str_appendchar(s, 1, ')');
    }
    return sqlite3_str_finish(s);
}

static int prepare_inserts(loader *L, char **err) {
    sqlite3_finalize(L->ins_batch);
    sqlite3_finalize(L->ins_one);
    L->ins_batch = L->ins_one = NULL;
    if (L->n_cols == 0) return 0; /* appending an empty file: nothing to insert */
    int max_vars = sqlite3_limit(L->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1);
    int per = max_vars / (int)(L->n_cols ? L->n_cols : 1);
    L->batch_rows = per < 1 ? 1 : per < LOAD_BATCH_ROWS ? per : LOAD_BATCH_ROWS;
    char *batch_sql = insert_sql(L, L->batch_rows);
    char *one_sql = insert_sql(L, 1);
    int rc = SQLITE_NOMEM;
    if (batch_sql && one_sql) {
        rc = sqlite3_prepare_v3(L->db, batch_sql, -1, SQLITE_PREPARE_PERSISTENT, &L->ins_batch, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_prepare_v3(L->db, one_sql, -1, SQLITE_PREPARE_PERSISTENT, &L->ins_one, NULL);
    }
    sqlite3_free(batch_sql);
    sqlite3_free(one_sql);
    if (rc != SQLITE_OK) return sql_fail(L, rc, err, "preparing the INSERT");
    return 0;
}

/* Builds "CREATE TABLE main."t"("a" INTEGER, ...)" (sqlite3_malloc'd). */
static char *create_sql(loader *L, const char *table, int tmp_names) {
    sqlite3_str *s = sqlite3_str_new(L->db);
    sqlite3_str_appendf(s, "CREATE TABLE main.\"%w\"(", table);
    for (size_t j = 0; j < L->n_cols; j++) {
        const char *type = silt_coltype_name(L->types[j]);
        if (tmp_names) sqlite3_str_appendf(s, "%s\"silt_ingest_tmp_%d\"%s%s", j ? ", " : "", (int)j,
                                           *type ? " " : "", type);
        else sqlite3_str_appendf(s, "%s\"%w\"%s%s", j ? ", " : "", L->cols[j], *type ? " " : "", type);
    }
    sqlite3_str_appendchar(s, 1, ')');
    return sqlite3_str_finish(s);
}

static int create_table(loader *L, char **err) {
    char *sql = create_sql(L, L->tbl, 0);
    if (!sql) {
        L->sqlite_rc = SQLITE_NOMEM;
        return silt_err(err, "out of memory");
    }
    int rc = exec_fmt(L, err, "%s", sql);
    sqlite3_free(sql);
    if (rc) return silt_err_prefix(err, "creating table \"%s\"", L->tbl);
    L->table_exists = 1;
    return 0;
}

/* if_exists=replace. DROP TABLE is refused while another statement reads the database
 * ("database table is locked", e.g. SELECT silt_ingest(url, t) FROM urls, or inside
 * silt_ingest_dir); the table is then emptied and its columns swapped in place with
 * ALTER TABLE, which SQLite allows. */
static int replace_table(loader *L, char **err) {
    char *msg = NULL;
    char *drop = sqlite3_mprintf("DROP TABLE main.\"%w\"", L->tbl);
    if (!drop) return silt_err(err, "out of memory");
    int rc = sqlite3_exec(L->db, drop, NULL, NULL, &msg);
    sqlite3_free(drop);
    sqlite3_free(msg);
    if (rc == SQLITE_OK) {
        L->table_exists = 0;
        return create_table(L, err);
    }
    if ((rc & 0xff) != SQLITE_LOCKED) return sql_fail(L, rc, err, "dropping the old table");
    table_cols old;
    if (read_table_cols(L, &old, err)) return -1;
    int bad = exec_fmt(L, err, "DELETE FROM main.\"%w\"", L->tbl);
    for (size_t j = 0; !bad && j < L->n_cols; j++)
        bad = exec_fmt(L, err, "ALTER TABLE main.\"%w\" ADD COLUMN \"silt_ingest_tmp_%d\" %s", L->tbl,
                       (int)j, silt_coltype_name(L->types[j]));
    for (int i = 0; !bad && i < old.n; i++)
        bad = exec_fmt(L, err, "ALTER TABLE main.\"%w\" DROP COLUMN \"%w\"", L->tbl, old.names[i]);
    for (size_t j = 0; !bad && j < L->n_cols; j++)
        bad = exec_fmt(L, err, "ALTER TABLE main.\"%w\" RENAME COLUMN \"silt_ingest_tmp_%d\" TO \"%w\"",
                       L->tbl, (int)j, L->cols[j]);
    table_cols_free(&old);
    if (bad)
        return silt_err_prefix(err, "replacing table \"%s\" while another statement reads the "
                                    "database (DROP TABLE is not allowed then)",
                               L->tbl);
    return 0;
}

/* Adds column name (type t) to the table, or maps onto an existing column of that name. */
static int add_column(loader *L, const char *name, silt_coltype t, char **out_name,
                      silt_coltype *out_type, char **err) {
    table_cols tc;
    if (read_table_cols(L, &tc, err)) return -1;
    int i = find_col(&tc, name);
    if (i >= 0) {
        *out_name = strdup(tc.names[i]);
        *out_type = tc.types[i];
    } else {
        if (exec_fmt(L, err, "ALTER TABLE main.\"%w\" ADD COLUMN \"%w\" %s", L->tbl, name,
                     silt_coltype_name(t))) {
            table_cols_free(&tc);
            return silt_err_prefix(err, "adding column \"%s\"", name);
        }
        *out_name = strdup(name);
        *out_type = t;
    }
    table_cols_free(&tc);
    if (!*out_name) return silt_err(err, "out of memory");
    return 0;
}

/* Applies the "types" option to the inferred types; an unknown column is an error. */
static int apply_type_overrides(loader *L, char **cols, silt_coltype *types, size_t n_cols, char **err) {
    for (size_t k = 0; k < L->o->n_types; k++) {
        size_t j = 0;
        while (j < n_cols && strcasecmp(cols[j], L->o->type_cols[k]) != 0) j++;
        if (j == n_cols) {
            char *list = list_cols(cols, (int)n_cols);
            silt_err(err, "option types: no column \"%s\" in the file (columns: %s)",
                     L->o->type_cols[k], list ? list : "?");
            sqlite3_free(list);
            return -1;
        }
        types[j] = L->o->type_vals[k];
    }
    return 0;
}

/* The header decision when appending: a first record whose names are all columns of the
 * table is a header; otherwise the usual vote. */
static int header_for_append(const silt_rows *r0, const table_cols *tc, const silt_colstats *st,
                             const unsigned char *non_year) {
    if (r0->n_rows == 0) return 0;
    const silt_row *row = &r0->rows[0];
    const char **raw = calloc(row->n_fields ? row->n_fields : 1, sizeof *raw);
    if (!raw) return silt_infer_header_vote(r0, r0->n_rows, row->n_fields, st, non_year);
    for (uint32_t j = 0; j < row->n_fields; j++) raw[j] = silt_rows_text(r0, silt_rows_field(r0, 0, j));
    char **names = silt_infer_names(raw, row->n_fields, NULL);
    free(raw);
    int all = names != NULL;
    for (uint32_t j = 0; all && j < row->n_fields; j++) all = find_col(tc, names[j]) >= 0;
    silt_infer_free_names(names, row->n_fields);
    return all ? 1 : silt_infer_header_vote(r0, r0->n_rows, row->n_fields, st, non_year);
}

/* Grows the statistics arrays *st / *ny (of *cap entries) to n entries; new entries are
 * zero. 0 or -1. */
static int grow_stats(silt_colstats **st, unsigned char **ny, size_t *cap, size_t n) {
    if (n <= *cap) return 0;
    size_t cap2 = *cap ? *cap : 16;
    while (cap2 < n) cap2 *= 2;
    silt_colstats *s2 = realloc(*st, cap2 * sizeof *s2);
    if (s2) *st = s2;
    unsigned char *n2 = realloc(*ny, cap2);
    if (n2) *ny = n2;
    if (!s2 || !n2) return -1;
    memset(s2 + *cap, 0, (cap2 - *cap) * sizeof *s2);
    memset(n2 + *cap, 0, cap2 - *cap);
    *cap = cap2;
    return 0;
}

/* Adds the sample part b (records acc_records.., those within the first infer_rows + 1) to
 * the running statistics. The result equals silt_infer_sample_stats over the whole sample
 * at once: a column first seen in a later record counts the earlier ones as empty, as a
 * short record does. The classes come from the parser thread (silt_batch.classified). 0 or
 * -1 with *err set. */
static int accumulate(loader *L, const silt_batch *b, char **err) {
    const silt_rows *r = &b->rows;
    size_t limit = (size_t)L->o->infer_rows + 1; /* records that form the sample */
    size_t g0 = L->acc_records;
    size_t n = g0 >= limit ? 0 : r->n_rows < limit - g0 ? r->n_rows : limit - g0;
    L->acc_records += r->n_rows;
    size_t max_cols = L->acc_max_cols;
    for (size_t i = 0; i < n; i++)
        if (r->rows[i].n_fields > max_cols) max_cols = r->rows[i].n_fields;
    if (max_cols > L->acc_n) {
        if (grow_stats(&L->acc_st, &L->acc_ny, &L->acc_cap, max_cols)) return silt_err(err, "out of memory");
        size_t seen = g0 > 1 ? g0 - 1 : 0; /* records already counted */
        for (size_t j = L->acc_n; j < max_cols; j++) L->acc_st[j].n_empty = (int64_t)seen;
        L->acc_n = max_cols;
    }
    L->acc_max_cols = max_cols;
    size_t i0 = g0 == 0 ? 1 : 0; /* record 0 of the sample is the header candidate */
    if (n > i0) silt_infer_rows_stats(r, i0, n, 0, L->acc_n, L->acc_st, L->acc_ny);
    return 0;
}

/* Column statistics of sample records 1..n_sample-1 for n_cols columns into L->st and
 * L->non_year, from the running counts; columns never seen are empty in every record.
 * 0 or -1 with *err set. */
static int sample_stats(loader *L, size_t n_sample, size_t n_cols, char **err) {
    free(L->st);
    free(L->non_year);
    L->st = calloc(n_cols ? n_cols : 1, sizeof *L->st);
    L->non_year = calloc(n_cols ? n_cols : 1, 1);
    if (!L->st || !L->non_year) return silt_err(err, "out of memory");
    for (size_t j = 0; j < n_cols; j++) {
        if (j < L->acc_n) {
            L->st[j] = L->acc_st[j];
            L->non_year[j] = L->acc_ny[j];
        } else {
            L->st[j].n_empty = n_sample > 1 ? (int64_t)n_sample - 1 : 0;
        }
    }
    return 0;
}

/* Adds (sign 1) or removes (sign -1) value f in st. */
static void stats_adjust(silt_colstats *st, const silt_rows *r, const silt_field *f, int sign) {
    silt_colstats one = {0};
    silt_colstats_add(&one, r, f);
    st->n_int += sign * one.n_int;
    st->n_real += sign * one.n_real;
    st->n_text += sign * one.n_text;
    st->n_empty += sign * one.n_empty;
}

/* Record g of the sample: its part's rows and its index there. */
static const silt_rows *sample_record(const silt_batch *const *parts, size_t n_parts, size_t g, size_t *i) {
    for (size_t p = 0; p < n_parts; p++) {
        const silt_rows *r = &parts[p]->rows;
        if (g < r->n_rows) {
            *i = g;
            return r;
        }
        g -= r->n_rows;
    }
    return NULL;
}

static void decision_free(decision *d) {
    silt_infer_free_names(d->cols, d->n_cols);
    free(d->types);
    memset(d, 0, sizeof *d);
}

static int decision_equal(const decision *a, const decision *b) {
    if (a->header != b->header || a->n_cols != b->n_cols) return 0;
    for (size_t j = 0; j < a->n_cols; j++)
        if (a->types[j] != b->types[j] || strcmp(a->cols[j], b->cols[j]) != 0) return 0;
    return 1;
}

/* The column was found by an earlier attempt of this load to need TEXT (see retype). */
static int forced_text(const loader *L, const char *col) {
    for (size_t k = 0; k < L->n_force_text; k++)
        if (strcasecmp(col, L->force_text[k]) == 0) return 1;
    return 0;
}

/* The "types" option names the column. */
static int user_typed(const loader *L, const char *col) {
    for (size_t k = 0; k < L->o->n_types; k++)
        if (strcasecmp(col, L->o->type_cols[k]) == 0) return 1;
    return 0;
}

/* Decides header, columns and types from the sample's parts (the sample as far as it has
 * come) into d; the "types" option applied. append: the load appends to the table whose
 * columns are tc. Reads nothing but the sample and tc. 0 or -1 with *err set. */
static int decide(loader *L, const silt_batch *const *parts, size_t n_parts, int append, const table_cols *tc,
                  decision *d, char **err) {
    memset(d, 0, sizeof *d);
    const silt_batch *last = parts[n_parts - 1];
    const silt_rows *r0 = &parts[0]->rows; /* record 0, when there is one, is in the first part */
    int jsonl = L->format == SILT_FMT_JSONL;
    size_t n_records = L->acc_records;
    /* The schema comes from the first infer_rows records (+ a header), even when the
     * sample's last part holds more. */
    size_t n_sample = (int64_t)n_records > L->o->infer_rows ? (size_t)L->o->infer_rows + 1 : n_records;
    size_t max_cols = L->acc_max_cols;
    int header = 0;
    size_t n_cols = 0;
    const char **raw = NULL;
    if (jsonl) {
        n_cols = last->n_keys > max_cols ? last->n_keys : max_cols;
        if (sample_stats(L, n_sample, n_cols, err)) return -1;
        n_cols = last->n_keys;
        raw = calloc(n_cols ? n_cols : 1, sizeof *raw);
        for (size_t j = 0; raw && j < n_cols; j++) raw[j] = last->keys[j];
    } else {
        if (n_records == 0 && !append) return silt_err(err, "no records: the file is empty");
        if (sample_stats(L, n_sample, max_cols, err)) return -1;
        header = L->o->header != SILT_OPT_AUTO ? L->o->header
                 : n_records == 0              ? 0
                 : append                      ? header_for_append(r0, tc, L->st, L->non_year)
                              : silt_infer_header_vote(r0, r0->n_rows, r0->rows[0].n_fields, L->st, L->non_year);
        if (n_records == 0) header = 0;
        n_cols = header ? r0->rows[0].n_fields : max_cols;
        raw = calloc(n_cols ? n_cols : 1, sizeof *raw);
        for (size_t j = 0; raw && header && j < n_cols; j++)
            raw[j] = silt_rows_text(r0, silt_rows_field(r0, 0, j));
    }
    if (!raw) return silt_err(err, "out of memory");
    if (n_cols == 0 && !append) {
        free(raw);
        return silt_err(err, jsonl && n_records ? "no columns: every object is empty"
                                                : "no records: the file is empty");
    }
    d->header = header;
    d->n_cols = n_cols;
    d->cols = silt_infer_names(raw, n_cols, err);
    free(raw);
    d->types = calloc(n_cols ? n_cols : 1, sizeof *d->types);
    if (!d->cols || !d->types) {
        int oom = d->cols != NULL;
        decision_free(d);
        return oom ? silt_err(err, "out of memory") : -1;
    }
    /* Types from records 1..n_sample-1 (computed once, for the header vote too); without a
     * header record 0 is data and counts, and the extra record read to judge the header
     * does not. */
    int drop_last = !header && n_sample > (size_t)L->o->infer_rows;
    size_t i_last = 0;
    const silt_rows *r_last = drop_last ? sample_record(parts, n_parts, n_sample - 1, &i_last) : NULL;
    for (size_t j = 0; j < n_cols; j++) {
        silt_colstats st = L->st[j];
        if (!header && n_sample) stats_adjust(&st, r0, silt_rows_field(r0, 0, j), 1);
        if (r_last) stats_adjust(&st, r_last, silt_rows_field(r_last, i_last, j), -1);
        d->types[j] = silt_colstats_type(&st);
    }
    if (apply_type_overrides(L, d->cols, d->types, n_cols, err)) {
        decision_free(d);
        return -1;
    }
    for (size_t j = 0; j < n_cols; j++)
        if (forced_text(L, d->cols[j])) d->types[j] = SILT_COL_TEXT;
    return 0;
}

/* Sets the table up for decision d (moved into L->cols / L->types): maps the columns onto
 * the table when appending (JSON Lines may add columns), replaces or creates it otherwise,
 * and prepares the INSERTs. 0 or -1 with *err set. */
static int apply(loader *L, decision *d, int append, const table_cols *tc, char **err) {
    int jsonl = L->format == SILT_FMT_JSONL;
    int header = d->header;
    free_cols(L);
    L->cols = d->cols;
    L->types = d->types;
    L->n_cols = d->n_cols;
    memset(d, 0, sizeof *d);
    size_t n_cols = L->n_cols;
    int rc = 0;
    if (append) {
        for (size_t j = 0; rc == 0 && j < n_cols; j++) {
            int i = header || jsonl ? find_col(tc, L->cols[j]) : (int)j < tc->n ? (int)j : -1;
            if (i >= 0) {
                char *name = strdup(tc->names[i]);
                if (!name) {
                    rc = silt_err(err, "out of memory");
                    break;
                }
                free(L->cols[j]);
                L->cols[j] = name;
                L->types[j] = tc->types[i];
            } else if (jsonl) {
                char *name = NULL;
                silt_coltype t;
                rc = add_column(L, L->cols[j], L->types[j], &name, &t, err);
                if (rc == 0) {
                    free(L->cols[j]);
                    L->cols[j] = name;
                    L->types[j] = t;
                }
            } else {
                char *list = list_cols(tc->names, tc->n);
                if (header)
                    rc = silt_err(err, "column \"%s\" of the file is not in table \"%s\" (its columns: %s)",
                                  L->cols[j], L->tbl, list ? list : "?");
                else
                    rc = silt_err(err, "the file has %zu columns, table \"%s\" only %d", n_cols, L->tbl, tc->n);
                sqlite3_free(list);
            }
        }
    } else if (L->table_exists) {
        rc = replace_table(L, err);
    } else {
        rc = create_table(L, err);
    }
    if (rc) return -1;
    return prepare_inserts(L, err);
}

static int decision_copy(decision *dst, const decision *src, char **err) {
    memset(dst, 0, sizeof *dst);
    dst->cols = calloc(src->n_cols ? src->n_cols : 1, sizeof *dst->cols);
    dst->types = malloc((src->n_cols ? src->n_cols : 1) * sizeof *dst->types);
    if (!dst->cols || !dst->types) {
        free(dst->cols);
        free(dst->types);
        memset(dst, 0, sizeof *dst);
        return silt_err(err, "out of memory");
    }
    dst->header = src->header;
    dst->n_cols = src->n_cols;
    for (size_t j = 0; j < src->n_cols; j++)
        if (!(dst->cols[j] = strdup(src->cols[j]))) {
            decision_free(dst);
            return silt_err(err, "out of memory");
        }
    if (src->n_cols) memcpy(dst->types, src->types, src->n_cols * sizeof *dst->types);
    return 0;
}

/* decide + apply from the sample's parts; *first: the first record of parts[0] that is
 * data (1 after a header). existed: the table existed before the load. */
static int setup_table(loader *L, const silt_batch *const *parts, size_t n_parts, int existed, size_t *first,
                       decision *keep, char **err) {
    int append = existed && L->o->if_exists == SILT_IFX_APPEND;
    L->appending = append;
    table_cols tc = {0};
    if (append && read_table_cols(L, &tc, err)) return -1;
    decision d;
    int rc = decide(L, parts, n_parts, append, &tc, &d, err);
    if (rc == 0) {
        *first = d.header ? 1 : 0;
        if (keep) rc = decision_copy(keep, &d, err);
        if (rc == 0) rc = apply(L, &d, append, &tc, err);
    }
    decision_free(&d);
    table_cols_free(&tc);
    return rc;
}

/* JSON Lines: keys first seen after the table was made become new columns. */
static int widen(loader *L, const silt_batch *b, size_t row_i, char **err) {
    const silt_rows *r = &b->rows;
    /* A key the first part did not have: the guess cannot be the sample's schema. */
    if (L->phase == LOAD_EARLY) return silt_err(err, "a new key during the early start");
    size_t n2 = b->n_keys;
    char **names = silt_infer_names((const char *const *)b->keys, n2, err);
    if (!names) return -1;
    char **cols2 = realloc(L->cols, n2 * sizeof *cols2);
    if (cols2) L->cols = cols2;
    silt_coltype *types2 = realloc(L->types, n2 * sizeof *types2);
    if (types2) L->types = types2;
    if (!cols2 || !types2) {
        silt_infer_free_names(names, n2);
        return silt_err(err, "out of memory");
    }
    int rc = 0;
    for (size_t j = L->n_cols; j < n2; j++) {
        silt_colstats st = {0};
        silt_colstats_add(&st, r, silt_rows_field(r, row_i, j));
        char *name = NULL;
        silt_coltype t;
        rc = add_column(L, names[j], forced_text(L, names[j]) ? SILT_COL_TEXT : silt_colstats_type(&st), &name,
                        &t, err);
        if (rc) break;
        L->cols[j] = name;
        L->types[j] = t;
        L->n_cols = j + 1;
    }
    silt_infer_free_names(names, n2);
    if (rc) return -1;
    return prepare_inserts(L, err);
}

/* ---- inserting ------------------------------------------------------------------------ */

/* Columns where SQLite may turn a text into a number. */
static int numeric_affinity(silt_coltype t) {
    return t == SILT_COL_INTEGER || t == SILT_COL_REAL || t == SILT_COL_NUMERIC;
}

/* Binds f as a value of a column of type t. *texted is set when a text goes into a column
 * with numeric affinity. */
static int bind_field(sqlite3_stmt *st, int idx, const silt_rows *r, const silt_field *f, silt_coltype t,
                      int *texted) {
    if (!f) return sqlite3_bind_null(st, idx);
    int numeric = numeric_affinity(t);
    switch ((silt_val_kind)f->kind) {
    case SILT_VAL_RAW: {
        const char *s = silt_rows_text(r, f);
        if (t == SILT_COL_TEXT || t == SILT_COL_BLOB) return sqlite3_bind_text(st, idx, s, (int)f->n_bytes, SQLITE_STATIC);
        int64_t iv = 0;
        double dv = 0;
        switch (silt_infer_field_class(r, f, &iv, &dv)) {
        case SILT_CLASS_EMPTY: return sqlite3_bind_null(st, idx);
        case SILT_CLASS_INT: return t == SILT_COL_REAL ? sqlite3_bind_double(st, idx, (double)iv) : sqlite3_bind_int64(st, idx, iv);
        case SILT_CLASS_REAL: return sqlite3_bind_double(st, idx, dv);
        case SILT_CLASS_TEXT:
            *texted = numeric;
            return sqlite3_bind_text(st, idx, s, (int)f->n_bytes, SQLITE_STATIC);
        }
        return sqlite3_bind_null(st, idx);
    }
    case SILT_VAL_NULL: return sqlite3_bind_null(st, idx);
    case SILT_VAL_INT: return sqlite3_bind_int64(st, idx, f->v.i);
    case SILT_VAL_REAL: return sqlite3_bind_double(st, idx, f->v.d);
    case SILT_VAL_TEXT:
    case SILT_VAL_JSON:
        *texted = numeric;
        return sqlite3_bind_text(st, idx, silt_rows_text(r, f), (int)f->n_bytes, SQLITE_STATIC);
    }
    return sqlite3_bind_null(st, idx);
}

/* Checks a delimited record with more fields than columns: extra empty fields (a trailing
 * delimiter) are dropped, anything else is an error naming the line. */
static int check_width(loader *L, const silt_rows *r, size_t i, char **err) {
    const silt_row *row = &r->rows[i];
    for (uint32_t j = (uint32_t)L->n_cols; j < row->n_fields; j++)
        if (silt_rows_field(r, i, j)->n_bytes)
            return silt_err(err, "line %lld: %u fields, expected %zu", (long long)row->line,
                            row->n_fields, L->n_cols);
    return 0;
}

/* Whether SQLite's numeric affinity would turn text s into a number (SQLite decides, through
 * sqlite3_value_numeric_type, which applies the same conversion as a column's affinity). */
static int text_converts(loader *L, const char *s, size_t n_bytes, int *converts) {
    *converts = 0;
    if (!L->probe) {
        int rc = sqlite3_prepare_v2(L->db, "SELECT ?1", -1, &L->probe, NULL);
        if (rc != SQLITE_OK) return rc;
    }
    int rc = sqlite3_bind_text(L->probe, 1, s, (int)n_bytes, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(L->probe);
    if (rc == SQLITE_ROW) {
        sqlite3_value *v = sqlite3_value_dup(sqlite3_column_value(L->probe, 0));
        if (v) {
            int t = sqlite3_value_numeric_type(v);
            *converts = t == SQLITE_INTEGER || t == SQLITE_FLOAT;
            sqlite3_value_free(v);
            rc = SQLITE_OK;
        } else {
            rc = SQLITE_NOMEM;
        }
    }
    sqlite3_reset(L->probe);
    sqlite3_clear_bindings(L->probe);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* A text value after the sample in a column whose type the sample made INTEGER or REAL. Text
 * that is not a number is stored as text (affinity keeps it) and nothing is lost; but text
 * that SQLite reads as a number in another spelling ("007", "+5", " 12", "1.0" as a JSON
 * string) would be changed by the column's affinity. Then the column must be TEXT, as it
 * would have been had the value been in the sample: L->retype names it, and from then on the
 * rest of the source is only checked (L->checking: every such column is found in this one
 * pass), after which silt_ingest_load undoes the load and runs it again with those columns
 * TEXT. Columns whose type the user chose (the types option) or that belong to a table
 * appended to are left as they are. 0, or -1 with *err set. */
static int needs_retype(loader *L, size_t j, const silt_rows *r, const silt_field *f, char **err) {
    if (L->phase != LOAD_STREAM || L->appending || L->types[j] == SILT_COL_NUMERIC || user_typed(L, L->cols[j]))
        return 0;
    for (size_t k = 0; k < L->n_retype; k++)
        if (strcmp(L->retype[k], L->cols[j]) == 0) return 0;
    int converts = 0;
    int rc = text_converts(L, silt_rows_text(r, f), f->n_bytes, &converts);
    if (rc != SQLITE_OK) return sql_fail(L, rc, err, "checking a value");
    if (!converts) return 0;
    char **r2 = realloc(L->retype, (L->n_retype + 1) * sizeof *r2);
    if (!r2) return silt_err(err, "out of memory");
    L->retype = r2;
    if (!(L->retype[L->n_retype] = strdup(L->cols[j]))) return silt_err(err, "out of memory");
    L->n_retype++;
    L->checking = 1;
    return 0;
}

/* Whether f, bound as a value of a column of type t, would be text in a column with numeric
 * affinity (bind_field's *texted, without binding). */
static int field_texted(const silt_rows *r, const silt_field *f, silt_coltype t) {
    if (!f || !numeric_affinity(t)) return 0;
    if (f->kind == SILT_VAL_TEXT || f->kind == SILT_VAL_JSON) return 1;
    if (f->kind != SILT_VAL_RAW) return 0;
    int64_t iv;
    double dv;
    return silt_infer_field_class(r, f, &iv, &dv) == SILT_CLASS_TEXT;
}

/* L->checking: records first.. of b are checked for more columns that need TEXT, not
 * inserted (the load will be run again). Malformed records are left to that run. */
static int check_rows(loader *L, const silt_rows *r, size_t first, char **err) {
    for (size_t i = first; i < r->n_rows; i++) {
        size_t n = r->rows[i].n_fields < L->n_cols ? r->rows[i].n_fields : L->n_cols;
        for (size_t j = 0; j < n; j++) {
            const silt_field *f = silt_rows_field(r, i, j);
            if (field_texted(r, f, L->types[j]) && needs_retype(L, j, r, f, err)) return -1;
        }
    }
    return 0;
}

static int run_insert(loader *L, sqlite3_stmt *st, const silt_batch *b, size_t first, size_t n, char **err) {
    const silt_rows *r = &b->rows;
    if (!st) return silt_err(err, "line %lld: a record without any column", (long long)r->rows[first].line);
    int idx = 1;
    for (size_t i = first; i < first + n; i++)
        for (size_t j = 0; j < L->n_cols; j++) {
            int texted = 0;
            const silt_field *f = silt_rows_field(r, i, j);
            int rc = bind_field(st, idx++, r, f, L->types[j], &texted);
            if (rc != SQLITE_OK) return sql_fail(L, rc, err, "binding a value");
            if (texted && needs_retype(L, j, r, f, err)) return -1;
        }
    if (L->checking) { /* the batch holds a value its column would change: not inserted */
        sqlite3_reset(st);
        return 0;
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        L->sqlite_rc = rc;
        return silt_err(err, "line %lld: %s", (long long)r->rows[first].line, sqlite3_errmsg(L->db));
    }
    L->n_loaded += (int64_t)n;
    return 0;
}

/* Inserts records first.. of b: whole batches through the multi-row INSERT, the rest one
 * by one. */
static int insert_rows(loader *L, const silt_batch *b, size_t first, char **err) {
    const silt_rows *r = &b->rows;
    size_t i = first, n = r->n_rows;
    int jsonl = L->format == SILT_FMT_JSONL;
    while (i < n) {
        if (L->checking) return check_rows(L, r, i, err);
        size_t take = n - i >= (size_t)L->batch_rows ? (size_t)L->batch_rows : 1;
        size_t k = i;
        for (; k < i + take; k++)
            if (r->rows[k].n_fields > L->n_cols) {
                if (!jsonl) {
                    if (check_width(L, r, k, err)) return -1;
                } else {
                    break;
                }
            }
        if (k < i + take) { /* a JSON key not seen before: rows before it, then widen */
            for (; i < k; i++)
                if (run_insert(L, L->ins_one, b, i, 1, err)) return -1;
            if (widen(L, b, k, err)) return -1;
            continue;
        }
        if (run_insert(L, take == 1 ? L->ins_one : L->ins_batch, b, i, take, err)) return -1;
        i += take;
    }
    return 0;
}

/* ---- pipeline callbacks ---------------------------------------------------------------- *
 *
 * The sample decides the schema, but waiting for all of it (20,000 records by default)
 * would leave the inserting thread idle while the parser reads it, and on a file no longer
 * than the sample the two threads would not overlap at all. So the schema is first guessed
 * from the sample's first part (LOAD_EARLY): the table is made inside a savepoint of its
 * own and the records are inserted as the parts come. When the sample is complete the
 * schema is decided from all of it exactly as if it had come at once; almost always that is
 * the guess, and the load carries on. Otherwise (a column that turns to text after the
 * first part, a different header vote, a JSON key seen later) the savepoint is rolled back
 * and the held parts are inserted again under the real schema, so the table is always the
 * one the whole sample gives. An error during the guess (a record too wide for the guessed
 * columns, a constraint of an appended-to table) abandons the guess the same way: it may be
 * the guess's fault, and the exact path reports it if not. */

static int push_part(loader *L, const silt_batch *b, char **err) {
    if (L->n_parts == L->parts_cap) {
        size_t cap = L->parts_cap ? L->parts_cap * 2 : 16;
        const silt_batch **p2 = realloc(L->parts, cap * sizeof *p2);
        if (!p2) return silt_err(err, "out of memory");
        L->parts = p2;
        L->parts_cap = cap;
    }
    L->parts[L->n_parts++] = b;
    return 0;
}

/* Undoes the early start after a failure (*err set): 0 with *err cleared, or -1 when the
 * failure cannot be undone (an interrupt, or SQLite rolled the transaction back). */
static int abandon_early(loader *L, char **err) {
    if (L->sqlite_rc == SQLITE_INTERRUPT) return -1;
    sqlite3_finalize(L->ins_batch);
    sqlite3_finalize(L->ins_one);
    L->ins_batch = L->ins_one = NULL;
    if (sqlite3_exec(L->db, "ROLLBACK TO silt_ingest_early; RELEASE silt_ingest_early", NULL, NULL, NULL) !=
        SQLITE_OK)
        return -1;
    free(*err);
    *err = NULL;
    L->sqlite_rc = 0;
    L->table_exists = L->early_existed;
    L->n_loaded = 0;
    L->no_early = 1;
    L->phase = LOAD_WAIT;
    free_cols(L);
    decision_free(&L->early);
    return 0;
}

/* The first part of a longer sample: guess the schema from it and start inserting. */
static int start_early(loader *L, char **err) {
    if (sqlite3_exec(L->db, "SAVEPOINT silt_ingest_early", NULL, NULL, NULL) != SQLITE_OK) {
        L->no_early = 1; /* not worth failing the load for */
        return 0;
    }
    L->early_existed = L->table_exists;
    L->phase = LOAD_EARLY;
    if (setup_table(L, L->parts, 1, L->early_existed, &L->first, &L->early, err) ||
        insert_rows(L, L->parts[0], L->first, err))
        return abandon_early(L, err);
    return 0;
}

/* Inserts every part of the sample (the first from L->first). */
static int insert_parts(loader *L, char **err) {
    for (size_t p = 0; p < L->n_parts; p++)
        if (insert_rows(L, L->parts[p], p ? 0 : L->first, err)) return -1;
    return 0;
}

/* The sample is complete (b is its last part): the schema from all of it. */
static int end_sample(loader *L, const silt_batch *b, char **err) {
    if (L->phase == LOAD_EARLY) {
        int append = L->early_existed && L->o->if_exists == SILT_IFX_APPEND;
        table_cols tc = {0};
        decision d;
        int rc = append ? read_table_cols(L, &tc, err) : 0;
        if (rc == 0) rc = decide(L, L->parts, L->n_parts, append, &tc, &d, err);
        table_cols_free(&tc);
        int same = rc == 0 && decision_equal(&d, &L->early);
        if (rc == 0) decision_free(&d);
        if (same) {
            decision_free(&L->early);
            L->phase = LOAD_STREAM;
            if (sqlite3_exec(L->db, "RELEASE silt_ingest_early", NULL, NULL, NULL) != SQLITE_OK)
                return sql_fail(L, sqlite3_errcode(L->db), err, "releasing a savepoint");
            return insert_rows(L, b, 0, err);
        }
        /* A different schema, or deciding failed: the exact path says which. */
        if (rc) L->sqlite_rc = L->sqlite_rc == SQLITE_INTERRUPT ? SQLITE_INTERRUPT : 0;
        if (abandon_early(L, err)) return -1;
    }
    L->phase = LOAD_STREAM;
    if (setup_table(L, L->parts, L->n_parts, L->table_exists, &L->first, NULL, err)) return -1;
    return insert_parts(L, err);
}

static int on_records(void *ctx, const silt_batch *b, int final, char **err) {
    loader *L = ctx;
    (void)final;
    L->format = b->format;
    int rc;
    if (L->phase == LOAD_STREAM || !b->sample_part) {
        rc = insert_rows(L, b, 0, err);
    } else if (push_part(L, b, err) || accumulate(L, b, err)) {
        rc = -1;
    } else if (b->sample_end) {
        rc = end_sample(L, b, err);
        L->n_parts = 0; /* the pipeline reuses the parts after this returns */
    } else if (L->phase == LOAD_EARLY) {
        rc = insert_rows(L, b, 0, err);
        if (rc) rc = abandon_early(L, err);
    } else if (L->n_parts == 1 && !L->no_early) {
        rc = start_early(L, err);
    } else {
        rc = 0;
    }
    if (rc) return -1;
    silt_progress_update(&L->prog, b->n_bytes_in, L->n_loaded);
    return 0;
}

static int on_begin(void *ctx, const silt_fetch_info *info, char **err) {
    loader *L = ctx;
    if (L->prior && L->table_exists && !L->o->force && L->prior_etag && info->etag &&
        strcmp(L->prior_etag, info->etag) == 0 && !silt_fetch_is_file(L->url)) {
        L->unchanged = 1; /* the server ignored If-None-Match but sent the same ETag */
        return 1;
    }
    if (L->table_exists && L->o->if_exists == SILT_IFX_FAIL)
        return silt_err(err, "table \"%s\" already exists and the source changed since it was "
                             "loaded (if_exists is 'fail'; use 'replace' or 'append')",
                        L->tbl);
    return 0;
}

static int ensure_sources(loader *L, char **err);

/* main's cache_size setting (pages, or KiB when negative) and page size; 0 when unreadable. */
static int read_cache_size(sqlite3 *db, int64_t *cache, int64_t *page) {
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(db, "SELECT * FROM pragma_cache_size, pragma_page_size", -1, &st, NULL) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_ROW;
    if (ok) *cache = sqlite3_column_int64(st, 0), *page = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    return ok;
}

/* Room left in the page caches of db, in bytes: how much SQLite may still take from the
 * heap before it reuses its pages. */
static size_t cache_room(sqlite3 *db) {
    int64_t cache = 0, page = 0;
    read_cache_size(db, &cache, &page);
    int64_t bytes = cache < 0 ? -cache * 1024 : cache * page;
    int used = 0, hi = 0;
    if (sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_USED, &used, &hi, 0) == SQLITE_OK) bytes -= used;
    return bytes > 0 ? (size_t)bytes : 0;
}

/* A load into a table it creates runs with a page cache of LOAD_CACHE_PAGES pages (when the
 * connection's is larger), and the connection's own setting is put back afterwards. Such a
 * table has no index, and its rows go in rowid order: each page is filled once and never
 * read again during the load, so a larger cache only holds pages that wait to be written,
 * and takes fresh memory for them. With SQLite's default of 2,000 KiB, a 3 MB file's load
 * took 2-6 ms longer of ~25 (bench/README.md, ingest, session 10). Appending keeps the
 * connection's cache: the table may have indexes, whose pages are read again. */
#define LOAD_CACHE_PAGES 100
#define LOAD_STR_(x) #x
#define LOAD_STR(x) LOAD_STR_(x)

/* Lowers main's cache to LOAD_CACHE_PAGES; *was gets the setting to put back. 1 when it was
 * lowered, else 0 (already small, or the pragma failed: the load goes on either way). */
static int shrink_cache(loader *L, int64_t *was) {
    int64_t cache = 0, page = 0;
    int ok = read_cache_size(L->db, &cache, &page);
    int64_t pages = cache >= 0 ? cache : page > 0 ? -cache * 1024 / page : 0;
    if (!ok || pages <= LOAD_CACHE_PAGES) return 0;
    *was = cache;
    return sqlite3_exec(L->db, "PRAGMA main.cache_size = " LOAD_STR(LOAD_CACHE_PAGES), NULL, NULL, NULL) == SQLITE_OK;
}

static void restore_cache(loader *L, int64_t was) {
    char *sql = sqlite3_mprintf("PRAGMA main.cache_size = %lld", (long long)was);
    if (sql) sqlite3_exec(L->db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
}

/* While the first records are on the way: silt_sources is made (a first load into a
 * database need not wait for that), then the heap that SQLite's page cache is about to
 * fill is faulted in (core/heap_warm.h), step by step until the records come. */
static int on_idle(void *ctx, int last, char **err) {
    loader *L = ctx;
    if (last) {
        silt_heap_warm_settle(L->warm);
        return 0;
    }
    if (L->idle_steps++ == 0) {
        if (ensure_sources(L, err)) return -1;
        silt_heap_warm_init(L->warm, cache_room(L->db));
        return 1;
    }
    return silt_heap_warm_step(L->warm);
}

/* A few times a second: was the statement interrupted (sqlite3_interrupt, Ctrl-C in the
 * shell)? SQLite 3.40 has no sqlite3_is_interrupted(), but preparing a statement fails with
 * SQLITE_INTERRUPT while the flag is set. */
static int on_tick(void *ctx, char **err) {
    loader *L = ctx;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - L->t_tick.tv_sec) + (double)(now.tv_nsec - L->t_tick.tv_nsec) * 1e-9;
    if (dt < 0.1) return 0;
    L->t_tick = now;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(L->db, "SELECT 1", -1, &st, NULL);
    sqlite3_finalize(st);
    if (rc == SQLITE_INTERRUPT) {
        L->sqlite_rc = SQLITE_INTERRUPT;
        return silt_err(err, "interrupted");
    }
    return 0;
}

/* ---- provenance ------------------------------------------------------------------------ */

static int ensure_sources(loader *L, char **err) {
    return exec_fmt(L, err,
                    "CREATE TABLE IF NOT EXISTS main.silt_sources("
                    "url TEXT NOT NULL, tbl TEXT NOT NULL COLLATE NOCASE, rows INTEGER NOT NULL, "
                    "bytes INTEGER NOT NULL, sha256 TEXT, etag TEXT, last_modified TEXT, "
                    "loaded_at TEXT NOT NULL, PRIMARY KEY (url, tbl))");
}

static int read_prior(loader *L, char **err) {
    sqlite3_stmt *st = NULL;
    int rc;
    /* Without silt_sources nothing was loaded before; it is made while the first records
     * are on their way (on_idle), where it costs a first load nothing. */
    int have_sources = sqlite3_table_column_metadata(L->db, "main", "silt_sources", NULL, NULL, NULL, NULL, NULL,
                                                     NULL) == SQLITE_OK;
    if (have_sources) {
        rc = sqlite3_prepare_v2(L->db,
                                "SELECT rows, sha256, etag, last_modified FROM main.silt_sources "
                                "WHERE url = ?1 AND tbl = ?2",
                                -1, &st, NULL);
        if (rc != SQLITE_OK) return sql_fail(L, rc, err, "reading silt_sources");
        sqlite3_bind_text(st, 1, L->url, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, L->tbl, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    } else {
        rc = SQLITE_DONE;
    }
    if (rc == SQLITE_ROW) {
        L->prior = 1;
        L->prior_rows = sqlite3_column_int64(st, 0);
        L->prior_sha = dup_col(st, 1);
        L->prior_etag = dup_col(st, 2);
        L->prior_lm = dup_col(st, 3);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sql_fail(L, rc, err, "reading silt_sources");

    /* Column 2: the silt virtual table whose shadow table this is (an existing "<v>_..."
     * next to a silt virtual table <v>): loading there would corrupt <v>. */
    rc = sqlite3_prepare_v2(L->db, "SELECT type, sql LIKE 'CREATE VIRTUAL TABLE%', "
                            "(SELECT v.name FROM main.sqlite_schema v WHERE v.type = 'table' AND "
                            "v.sql LIKE 'CREATE VIRTUAL TABLE%USING silt\\_%' ESCAPE '\\' AND "
                            "length(?1) > length(v.name) + 1 AND "
                            "substr(?1, 1, length(v.name) + 1) = v.name || '_' COLLATE NOCASE) "
                            "FROM main.sqlite_schema WHERE name = ?1 COLLATE NOCASE",
                            -1, &st, NULL);
    if (rc != SQLITE_OK) return sql_fail(L, rc, err, "reading the schema");
    sqlite3_bind_text(st, 1, L->tbl, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    int bad_type = 0;
    if (rc == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        const char *owner = (const char *)sqlite3_column_text(st, 2);
        L->table_exists = 1;
        bad_type = !type || strcmp(type, "table") != 0 || sqlite3_column_int(st, 1) || owner;
        if (!type || strcmp(type, "table") != 0)
            silt_err(err, "\"%s\" is a %s, not a table", L->tbl, type ? type : "?");
        else if (sqlite3_column_int(st, 1))
            silt_err(err, "\"%s\" is a virtual table; silt_ingest loads ordinary tables", L->tbl);
        else if (owner)
            silt_err(err, "\"%s\" belongs to the virtual table \"%s\" (a shadow table); "
                          "choose another table name", L->tbl, owner);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (bad_type) return -1;
    if (rc != SQLITE_DONE) return sql_fail(L, rc, err, "reading the schema");
    return 0;
}

static int record_source(loader *L, const silt_fetch_info *info, int64_t rows, char **err) {
    if (L->o->if_exists == SILT_IFX_REPLACE || !L->table_exists) {
        if (exec_fmt(L, err, "DELETE FROM main.silt_sources WHERE tbl = %Q", L->tbl)) return -1;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(L->db,
                                "INSERT OR REPLACE INTO main.silt_sources(url, tbl, rows, bytes, "
                                "sha256, etag, last_modified, loaded_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                                "?6, ?7, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) return sql_fail(L, rc, err, "writing silt_sources");
    sqlite3_bind_text(st, 1, L->url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, L->tbl, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, rows);
    sqlite3_bind_int64(st, 4, info->n_bytes);
    sqlite3_bind_text(st, 5, info->sha256, -1, SQLITE_STATIC);
    if (info->etag) sqlite3_bind_text(st, 6, info->etag, -1, SQLITE_STATIC);
    if (info->last_modified) sqlite3_bind_text(st, 7, info->last_modified, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sql_fail(L, rc, err, "writing silt_sources");
    return 0;
}

/* The source is unchanged but its validators moved (a touched file): keep them current. */
static int refresh_validators(loader *L, const silt_fetch_info *info, char **err) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(L->db,
                                "UPDATE main.silt_sources SET etag = ?3, last_modified = ?4 "
                                "WHERE url = ?1 AND tbl = ?2",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) return sql_fail(L, rc, err, "updating silt_sources");
    sqlite3_bind_text(st, 1, L->url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, L->tbl, -1, SQLITE_STATIC);
    if (info->etag) sqlite3_bind_text(st, 3, info->etag, -1, SQLITE_STATIC);
    if (info->last_modified) sqlite3_bind_text(st, 4, info->last_modified, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sql_fail(L, rc, err, "updating silt_sources");
    return 0;
}

/* ---- the load -------------------------------------------------------------------------- */

static int check_table_name(const char *tbl, char **err) {
    if (!tbl || !*tbl) return silt_err(err, "the table name is empty");
    if (strncasecmp(tbl, "sqlite_", 7) == 0)
        return silt_err(err, "table name \"%s\" is reserved for SQLite (it starts with sqlite_)", tbl);
    if (strcasecmp(tbl, "silt_sources") == 0)
        return silt_err(err, "table name \"silt_sources\" is reserved for ingest provenance");
    if (strncasecmp(tbl, "silt_model_", 11) == 0)
        return silt_err(err, "table name \"%s\" is reserved for the model registry", tbl);
    return 0;
}

/* Everything between SAVEPOINT and RELEASE. 0 or -1 with *err set. */
static int load_body(loader *L, silt_ingest_result *res, char **err) {
    if (read_prior(L, err)) return -1;
    const silt_ingest_opts *o = L->o;
    int can_skip = L->prior && L->table_exists && !o->force;
    const char *inm = NULL, *ims = NULL;
    silt_fetch_info info;

    if (can_skip) {
        int is_file = silt_fetch_is_file(L->url);
        int hash_pass = 0;
        if (is_file) {
            char *etag = NULL, *lm = NULL;
            if (silt_fetch_file_validators(L->url, &etag, &lm, err)) return -1;
            int same = L->prior_etag && strcmp(etag, L->prior_etag) == 0;
            free(etag), free(lm);
            if (same) {
                res->rows = L->prior_rows;
                res->skipped = 1;
                return 0;
            }
            hash_pass = 1; /* touched, maybe not changed: reading a local file is cheap */
        } else if (!L->prior_etag && !L->prior_lm && o->if_exists == SILT_IFX_FAIL) {
            hash_pass = 1; /* no validators: the content decides */
        } else {
            inm = L->prior_etag;
            ims = L->prior_etag ? NULL : L->prior_lm;
        }
        if (hash_pass) {
            silt_pipeline_consumer none = {.tick = on_tick, .ctx = L};
            int rc = silt_pipeline_run(L->url, o, 1, NULL, NULL, &none, &info, err);
            int same = rc == 0 && L->prior_sha && strcmp(info.sha256, L->prior_sha) == 0;
            if (same) rc = refresh_validators(L, &info, err);
            silt_fetch_info_free(&info);
            if (rc) return -1;
            if (same) {
                res->rows = L->prior_rows;
                res->skipped = 1;
                return 0;
            }
        }
    }
    if (L->table_exists && o->if_exists == SILT_IFX_FAIL && !inm && !ims)
        return silt_err(err, "table \"%s\" already exists (if_exists is 'fail'; use 'replace' or 'append')",
                        L->tbl);

    silt_pipeline_consumer c = {.begin = on_begin, .records = on_records, .tick = on_tick, .idle = on_idle,
                                .ctx = L, .sample_rows = o->infer_rows, .early_rows = o->early_rows};
    char *base = silt_fetch_basename(L->url);
    silt_progress_start(&L->prog, base ? base : L->url, o->progress);
    free(base);
    silt_heap_warm warm;
    silt_heap_warm_init(&warm, 0);
    L->warm = &warm;
    L->idle_steps = 0;
    int64_t cache_was = 0;
    int shrunk = (!L->table_exists || o->if_exists == SILT_IFX_REPLACE) && shrink_cache(L, &cache_was);
    int rc = silt_pipeline_run(L->url, o, 0, inm, ims, &c, &info, err);
    if (shrunk) restore_cache(L, cache_was);
    silt_heap_warm_release(&warm);
    L->warm = NULL;
    silt_progress_end(&L->prog);
    if (rc == 0 && L->n_retype) {
        L->restart = 1;
        rc = silt_err(err, "%zu column(s) need TEXT", L->n_retype);
    } else if (rc == 0 && (info.not_modified || L->unchanged)) {
        res->rows = L->prior_rows;
        res->skipped = 1;
    } else if (rc == 0 && L->prior && !o->force && o->if_exists == SILT_IFX_APPEND && L->prior_sha &&
               strcmp(info.sha256, L->prior_sha) == 0) {
        /* Same bytes appended again: undo it (the caller rolls the savepoint back). */
        res->rows = L->prior_rows;
        res->skipped = 2;
    } else if (rc == 0) {
        res->rows = L->n_loaded;
        rc = record_source(L, &info, L->n_loaded, err);
    }
    silt_fetch_info_free(&info);
    return rc;
}

/* Frees what a load attempt allocated and makes L ready for another attempt of the same
 * load (db, options, URL, table and the forced-TEXT columns stay). */
static void loader_clear(loader *L) {
    sqlite3_finalize(L->ins_batch);
    sqlite3_finalize(L->ins_one);
    sqlite3_finalize(L->probe);
    free_cols(L);
    free(L->st);
    free(L->non_year);
    free(L->parts);
    free(L->acc_st);
    free(L->acc_ny);
    decision_free(&L->early);
    sqlite3_free(L->prior_sha);
    sqlite3_free(L->prior_etag);
    sqlite3_free(L->prior_lm);
    for (size_t k = 0; k < L->n_retype; k++) free(L->retype[k]);
    free(L->retype);
    *L = (loader){.db = L->db, .o = L->o, .url = L->url, .tbl = L->tbl, .t_tick = L->t_tick,
                  .force_text = L->force_text, .n_force_text = L->n_force_text};
}

static int ingest_load(sqlite3 *db, const char *url_or_path, const char *tbl,
                       const silt_ingest_opts *opts, silt_ingest_result *res, char **errmsg) {
    memset(res, 0, sizeof *res);
    char *err = NULL;
    silt_ingest_opts capped = *opts; /* the application's fetch limits bound the call's */
    silt_pathguard_fetch_limits(&capped.max_bytes, &capped.timeout_ms);
    opts = &capped;
    loader L = {.db = db, .o = opts, .tbl = tbl};
    clock_gettime(CLOCK_MONOTONIC, &L.t_tick);
    char *url = silt_fetch_normalize_url(url_or_path, &err);
    if (!url || check_table_name(tbl, &err) || silt_pathguard_check_url(url, &err)) {
        *errmsg = sqlite3_mprintf("%s", err ? err : "out of memory");
        free(err);
        free(url);
        return SQLITE_ERROR;
    }
    L.url = url;
    int rc = sqlite3_exec(db, "SAVEPOINT silt_ingest", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        /* SQLite refuses a savepoint while another statement writes: the load could not be
         * undone on failure, so it is not started. */
        if (strstr(sqlite3_errmsg(db), "statements in progress")) {
            *errmsg = sqlite3_mprintf("cannot load inside a statement that writes to the database "
                                      "(INSERT ... SELECT silt_ingest(...), CREATE TABLE ... AS SELECT "
                                      "... FROM silt_ingest_dir(...)): run it in a SELECT of its own");
            rc = SQLITE_ERROR;
        } else {
            *errmsg = sqlite3_mprintf("cannot start a savepoint: %s", sqlite3_errmsg(db));
        }
        free(url);
        return rc;
    }
    /* A load that finds columns must be TEXT after all (needs_retype) is undone and run
     * again with those columns TEXT. The first run checks the whole source once it finds
     * one, so a second run is the last in practice (JSON keys first seen after that point
     * are the exception); each run adds a column, so there are never more runs than
     * columns. */
    char **forced = NULL;
    size_t n_forced = 0;
    int failed;
    for (;;) {
        L.force_text = forced;
        L.n_force_text = n_forced;
        failed = load_body(&L, res, &err);
        if (!(failed && L.restart && L.sqlite_rc != SQLITE_INTERRUPT)) break;
        size_t fresh = 0;
        for (size_t k = 0; k < L.n_retype; k++) fresh += !forced_text(&L, L.retype[k]);
        if (!fresh) break; /* cannot happen; never loop on it */
        char **f2 = realloc(forced, (n_forced + L.n_retype) * sizeof *f2);
        if (!f2) break; /* the marker error stands; the load fails and is undone */
        forced = f2;
        for (size_t k = 0; k < L.n_retype; k++) forced[n_forced++] = L.retype[k];
        L.n_retype = 0;
        if (sqlite3_exec(db, "ROLLBACK TO silt_ingest", NULL, NULL, NULL) != SQLITE_OK) {
            silt_err(&err, "cannot undo the load to retype a column: %s", sqlite3_errmsg(db));
            break;
        }
        free(err);
        err = NULL;
        loader_clear(&L);
        memset(res, 0, sizeof *res);
    }
    sqlite3_finalize(L.ins_batch);
    sqlite3_finalize(L.ins_one);
    L.ins_batch = L.ins_one = NULL;
    if (failed || res->skipped == 2) {
        /* After an interrupt SQLite refuses further statements and rolls the whole
         * transaction back when the calling statement fails; otherwise undo our part. */
        if (L.sqlite_rc != SQLITE_INTERRUPT)
            sqlite3_exec(db, "ROLLBACK TO silt_ingest; RELEASE silt_ingest", NULL, NULL, NULL);
        if (res->skipped == 2) res->skipped = 1;
    } else {
        rc = sqlite3_exec(db, "RELEASE silt_ingest", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            failed = 1;
            L.sqlite_rc = rc;
            silt_err(&err, "cannot commit the load: %s", sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK TO silt_ingest; RELEASE silt_ingest", NULL, NULL, NULL);
        }
    }
    if (failed) {
        *errmsg = sqlite3_mprintf("%s", err ? err : "unknown error");
        rc = L.sqlite_rc ? L.sqlite_rc : SQLITE_ERROR;
        if ((rc & 0xff) == SQLITE_DONE || (rc & 0xff) == SQLITE_ROW) rc = SQLITE_ERROR;
    } else {
        rc = SQLITE_OK;
    }
    free(err);
    free(url);
    loader_clear(&L);
    for (size_t k = 0; k < n_forced; k++) free(forced[k]);
    free(forced);
    return rc;
}

int silt_ingest_load(sqlite3 *db, const char *url_or_path, const char *tbl,
                     const silt_ingest_opts *opts, silt_ingest_result *res, char **errmsg) {
    silt_fetch_warm_up(); /* libcurl's initialisation overlaps the load's SQL setup */
    int rc = ingest_load(db, url_or_path, tbl, opts, res, errmsg);
    silt_fetch_warm_up_wait(); /* no thread of ours outlives the call */
    return rc;
}

/* ---- table names for silt_ingest_dir ---------------------------------------------------- */

char *silt_ingest_table_name(const char *rel) {
    size_t n = strlen(rel);
    if (n > 3 && strncasecmp(rel + n - 3, ".gz", 3) == 0) n -= 3;
    static const char *const exts[] = {".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".json", ".txt"};
    for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++) {
        size_t k = strlen(exts[e]);
        if (n > k && strncasecmp(rel + n - k, exts[e], k) == 0) {
            n -= k;
            break;
        }
    }
    char *out = sqlite3_malloc64(n + 3);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = rel[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (ok) out[k++] = c;
        else if (k == 0 || out[k - 1] != '_') out[k++] = '_';
    }
    while (k > 0 && out[k - 1] == '_') k--;
    size_t start = 0;
    while (start < k && out[start] == '_') start++;
    memmove(out, out + start, k - start);
    k -= start;
    out[k] = 0;
    if (k == 0 || (out[0] >= '0' && out[0] <= '9') || strncasecmp(out, "sqlite_", 7) == 0) {
        memmove(out + 2, out, k + 1);
        out[0] = 't', out[1] = '_';
    }
    return out;
}
