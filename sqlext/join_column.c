/* join_column.c: see join_column.h. */
#include "sqlext/join_column.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/colset.h"

void silt_join_column_free(silt_join_column *c) {
    sqlite3_free(c->values);
    sqlite3_free(c->lens);
    sqlite3_free(c->hashes);
    sqlite3_free(c->buf);
    memset(c, 0, sizeof *c);
}

/* A distinct value met in the column: its text form (in the collector's buffer), its count,
 * and what SQLite compares it by. */
typedef struct {
    int cls;      /* SQLite orders numbers (0) before texts (1) before blobs (2) */
    int is_real;  /* a number kept as a double: not integral (an integral one is held in i) */
    int64_t i;
    double r;
    size_t off, len; /* text form: buf[off .. off + len), NUL after it */
    sqlite3_int64 count;
    size_t at;       /* position in SQLite's order of values (SQL path) */
    uint64_t key;    /* hash of what SQLite compares (fast path's table) */
    const char *text; /* buf + off, set once the buffer stops moving */
} group;

typedef struct {
    group *g;
    size_t n, cap;
    char *buf;
    size_t buf_len, buf_cap;
    uint32_t *slot; /* fast path: open addressing over g, 0 = empty, else index + 1 */
    size_t n_slot;  /* a power of two, at least 2 * n */
} collector;

static void collector_free(collector *c) {
    sqlite3_free(c->g);
    sqlite3_free(c->buf);
    sqlite3_free(c->slot);
    memset(c, 0, sizeof *c);
}

/* Appends a group whose text form is t[0..len); returns its index, or -1 when out of memory. */
static long add_group(collector *c, const group *g, const char *t, size_t len) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        group *x = sqlite3_realloc64(c->g, cap * sizeof *x);
        if (!x) return -1;
        c->g = x;
        c->cap = cap;
    }
    if (c->buf_len + len + 1 > c->buf_cap) {
        size_t cap = c->buf_cap ? c->buf_cap : 1024;
        while (cap < c->buf_len + len + 1) cap *= 2;
        char *b = sqlite3_realloc64(c->buf, cap);
        if (!b) return -1;
        c->buf = b;
        c->buf_cap = cap;
    }
    group *x = &c->g[c->n];
    *x = *g;
    x->off = c->buf_len;
    x->len = len;
    if (len) memcpy(c->buf + c->buf_len, t, len);
    c->buf[c->buf_len + len] = 0;
    c->buf_len += len + 1;
    return (long)c->n++;
}

/* SQLite's text form of an integral number, as value_text gives it. */
static size_t int_text(int64_t i, char *out, size_t out_bytes) {
    int n = snprintf(out, out_bytes, "%lld", (long long)i);
    return n > 0 ? (size_t)n : 0;
}

/* Prepares sql (sqlite3_mprintf'd, NULL when that ran out of memory; freed here), a read of
 * column col. SQLITE_OK; SQLITE_NOMEM; or SQLITE_ERROR with *err naming the column. */
static int prepare_read(sqlite3 *db, char *sql, const char *schema, const char *table, const char *col,
                        sqlite3_stmt **st, char **err) {
    if (!sql) return SQLITE_NOMEM;
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    sqlite3_free(sql);
    if (rc == SQLITE_OK) return SQLITE_OK;
    if (rc == SQLITE_NOMEM) return rc;
    *err = sqlite3_mprintf("silt_join: cannot read column %s.%s.%s: %s", schema, table, col, sqlite3_errmsg(db));
    return SQLITE_ERROR;
}

/* ---- the definition: SQLite's own grouping and order ----------------------------------- */

/* The columns' values in SQLite's order of values (GROUP BY v ORDER BY v: one sort, which
 * the GROUP BY already does), each with its count. The text form is SQLite's, except that an
 * integral REAL reads as an integer, so 3 in an INTEGER column joins 3.0 in a REAL one. */
static int read_sql(sqlite3 *db, const char *schema, const char *table, const char *col, collector *c, char **err) {
    sqlite3_stmt *st;
    int rc = prepare_read(db, sqlite3_mprintf(
        "SELECT v, count(*) AS c FROM (SELECT \"%w\" AS v FROM \"%w\".\"%w\") "
        "WHERE v IS NOT NULL AND v <> '' GROUP BY v ORDER BY v",
        col, schema, table), schema, table, col, &st, err);
    if (rc != SQLITE_OK) return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        group g = {0};
        g.count = sqlite3_column_int64(st, 1);
        g.at = c->n;
        char num[32];
        const char *t;
        size_t len;
        double d = sqlite3_column_type(st, 0) == SQLITE_FLOAT ? sqlite3_column_double(st, 0) : 0.5;
        if (d == floor(d) && fabs(d) < 9007199254740992.0) {
            len = int_text((int64_t)d, num, sizeof num);
            t = num;
        } else {
            t = (const char *)sqlite3_column_text(st, 0);
            len = (size_t)sqlite3_column_bytes(st, 0);
            if (!t && len) {
                rc = SQLITE_NOMEM;
                break;
            }
        }
        if (add_group(c, &g, t, len) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return SQLITE_OK;
    if (rc == SQLITE_NOMEM) return rc;
    *err = sqlite3_mprintf("silt_join: reading %s.%s.%s: %s", schema, table, col, sqlite3_errmsg(db));
    return SQLITE_ERROR;
}

/* ---- the fast path: one pass, grouped and ordered here --------------------------------- */

#define NOT_HERE (-1) /* the fast path cannot reproduce this column exactly: use read_sql */

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* SQLite's equality of two values of the column (BINARY collation). */
static int same_value(const group *a, const group *b, const char *buf, const unsigned char *bytes) {
    if (a->cls != b->cls) return 0;
    if (a->cls == 0)
        return a->is_real == b->is_real && (a->is_real ? a->r == b->r : a->i == b->i);
    return a->len == b->len && (!a->len || memcmp(buf + a->off, bytes, a->len) == 0);
}

static int grow_slots(collector *c) {
    size_t n = c->n_slot ? c->n_slot * 2 : 256;
    uint32_t *s = sqlite3_malloc64(n * sizeof *s);
    if (!s) return SQLITE_NOMEM;
    memset(s, 0, n * sizeof *s);
    for (size_t i = 0; i < c->n; i++) {
        size_t j = c->g[i].key & (n - 1);
        while (s[j]) j = (j + 1) & (n - 1);
        s[j] = (uint32_t)i + 1;
    }
    sqlite3_free(c->slot);
    c->slot = s;
    c->n_slot = n;
    return SQLITE_OK;
}

/* Integer i against a double r that is not integral, or out of int64's range: exactly, as
 * SQLite compares them (no rounding of i to a double). */
static int cmp_int_real(int64_t i, double r) {
    if (r < -9223372036854775808.0) return 1;
    if (r >= 9223372036854775808.0) return -1;
    double fl = floor(r);
    int64_t y = (int64_t)fl; /* exact: fl is integral and in range */
    if (i != y) return i < y ? -1 : 1;
    return fl == r ? 0 : -1; /* i == floor(r) < r */
}

/* SQLite's order of values (ORDER BY v, BINARY collation). */
static int cmp_sqlite(const group *a, const group *b) {
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    if (a->cls == 0) {
        if (!a->is_real && !b->is_real) return (a->i > b->i) - (a->i < b->i);
        if (a->is_real && b->is_real) return (a->r > b->r) - (a->r < b->r);
        return a->is_real ? -cmp_int_real(b->i, a->r) : cmp_int_real(a->i, b->r);
    }
    size_t n = a->len < b->len ? a->len : b->len;
    int x = n ? memcmp(a->text, b->text, n) : 0;
    if (x) return x < 0 ? -1 : 1;
    return (a->len > b->len) - (a->len < b->len);
}

static int cmp_fast(const void *pa, const void *pb) {
    const group *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return cmp_sqlite(a, b);
}

/* Is the database's text encoding UTF-8? Texts that are not ASCII order differently in a
 * UTF-16 database (BINARY compares the stored bytes). */
static int is_utf8(sqlite3 *db, const char *schema, int *yes) {
    char *sql = sqlite3_mprintf("PRAGMA \"%w\".encoding", schema);
    if (!sql) return SQLITE_NOMEM;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(st);
    *yes = rc == SQLITE_ROW && sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "UTF-8") == 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Reads the column with a plain SELECT and groups its values by SQLite's equality under the
 * BINARY collation: numbers by value (3 and 3.0 are one value), texts and blobs by their
 * bytes. Returns NOT_HERE where the text form of a value would depend on which of several
 * equal values SQLite keeps (an integral REAL of 2^53 or more, equal to an INTEGER with
 * another text form) or where the order of texts would (non-ASCII text in a UTF-16
 * database); then the caller reads the column with read_sql. */
static int read_fast(sqlite3 *db, const char *schema, const char *table, const char *col, collector *c, char **err) {
    sqlite3_stmt *st;
    int rc = prepare_read(db, sqlite3_mprintf("SELECT \"%w\" FROM \"%w\".\"%w\"", col, schema, table), schema,
                          table, col, &st, err);
    if (rc != SQLITE_OK) return rc;
    int non_ascii = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int type = sqlite3_column_type(st, 0);
        group g = {0};
        const unsigned char *bytes = NULL;
        char num[32];
        if (type == SQLITE_NULL) continue;
        if (type == SQLITE_INTEGER) {
            g.i = sqlite3_column_int64(st, 0);
            g.key = mix64((uint64_t)g.i);
        } else if (type == SQLITE_FLOAT) {
            double d = sqlite3_column_double(st, 0);
            if (d == floor(d)) {
                if (!(fabs(d) < 9007199254740992.0)) {
                    rc = NOT_HERE;
                    break;
                }
                g.i = (int64_t)d;
                g.key = mix64((uint64_t)g.i);
            } else {
                uint64_t bits;
                memcpy(&bits, &d, sizeof bits);
                g.is_real = 1;
                g.r = d;
                g.key = mix64(bits ^ 0x5bd1e995u);
            }
        } else {
            g.cls = type == SQLITE_TEXT ? 1 : 2;
            bytes = type == SQLITE_TEXT ? sqlite3_column_text(st, 0) : sqlite3_column_blob(st, 0);
            g.len = (size_t)sqlite3_column_bytes(st, 0);
            if (g.cls == 1 && g.len == 0) continue; /* '' is no value; an empty blob is one */
            if (!bytes && g.len) {
                rc = SQLITE_NOMEM;
                break;
            }
            g.key = (uint64_t)silt_colset_hash((const char *)bytes, g.len) + (uint64_t)g.cls;
        }
        if (2 * (c->n + 1) > c->n_slot && (rc = grow_slots(c)) != SQLITE_OK) break;
        size_t j = g.key & (c->n_slot - 1);
        for (; c->slot[j]; j = (j + 1) & (c->n_slot - 1)) {
            group *x = &c->g[c->slot[j] - 1];
            if (x->key == g.key && same_value(x, &g, c->buf, bytes)) break;
        }
        if (c->slot[j]) {
            c->g[c->slot[j] - 1].count++;
            continue;
        }
        g.count = 1;
        const char *t = (const char *)bytes;
        size_t len = g.len;
        if (g.cls == 0) {
            if (g.is_real) {
                t = (const char *)sqlite3_column_text(st, 0);
                len = (size_t)sqlite3_column_bytes(st, 0);
                if (!t) {
                    rc = SQLITE_NOMEM;
                    break;
                }
            } else {
                len = int_text(g.i, num, sizeof num);
                t = num;
            }
        } else if (g.cls == 1 && !non_ascii) {
            for (size_t k = 0; k < len; k++)
                if ((unsigned char)t[k] >= 0x80) non_ascii = 1;
        }
        long at = add_group(c, &g, t, len);
        if (at < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        c->slot[j] = (uint32_t)at + 1;
    }
    sqlite3_finalize(st);
    if (rc == NOT_HERE || rc == SQLITE_NOMEM) return rc;
    if (rc != SQLITE_DONE) {
        *err = sqlite3_mprintf("silt_join: reading %s.%s.%s: %s", schema, table, col, sqlite3_errmsg(db));
        return SQLITE_ERROR;
    }
    if (non_ascii) {
        int utf8 = 0;
        if ((rc = is_utf8(db, schema, &utf8)) != SQLITE_OK) return rc;
        if (!utf8) return NOT_HERE;
    }
    for (size_t i = 0; i < c->n; i++) c->g[i].text = c->buf + c->g[i].off;
    if (c->n > 1) qsort(c->g, c->n, sizeof *c->g, cmp_fast);
    return SQLITE_OK;
}

/* ---- both ----------------------------------------------------------------------------- */

/* Most frequent first; ties keep SQLite's order of values (read_sql's row order). */
static int cmp_sql(const void *pa, const void *pb) {
    const group *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return (a->at > b->at) - (a->at < b->at);
}

/* Moves the collected groups, in order, into out. */
static int finish(collector *c, silt_join_column *out) {
    size_t n = c->n;
    out->values = sqlite3_malloc64((n ? n : 1) * sizeof *out->values);
    out->lens = sqlite3_malloc64((n ? n : 1) * sizeof *out->lens);
    out->hashes = sqlite3_malloc64((n ? n : 1) * sizeof *out->hashes);
    if (!out->values || !out->lens || !out->hashes) return SQLITE_NOMEM;
    out->buf = c->buf;
    c->buf = NULL;
    for (size_t i = 0; i < n; i++) {
        const group *g = &c->g[i];
        out->values[i] = out->buf + g->off;
        out->lens[i] = g->len;
        out->hashes[i] = silt_colset_hash(out->values[i], g->len);
        out->n_rows += g->count;
    }
    out->n_values = n;
    /* Values that differ as SQL values but share a text form (3 and '3') count once. */
    out->n_hashes = silt_colset_unique(out->hashes, n);
    return SQLITE_OK;
}

int silt_join_column_read(sqlite3 *db, const char *schema, const char *table, const char *col, int how,
                          silt_join_column *out, char **err) {
    memset(out, 0, sizeof *out);
    /* The column must exist: SQLite would read an unknown "name" as a string literal. The
     * schema lookup answers for tables without preparing a statement (and gives the
     * collation, which decides the fast path); views (which it refuses), the rowid's names
     * (which it accepts as columns) and errors go through pragma_table_info. */
    const char *coll = NULL;
    int found = sqlite3_stricmp(col, "rowid") && sqlite3_stricmp(col, "oid") && sqlite3_stricmp(col, "_rowid_") &&
                sqlite3_table_column_metadata(db, schema, table, col, NULL, &coll, NULL, NULL, NULL) == SQLITE_OK;
    int fast = found && how == SILT_JOIN_READ_FAST && coll && sqlite3_stricmp(coll, "BINARY") == 0;
    int table_found = found;
    if (!found) {
        sqlite3_stmt *chk;
        if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1, ?2)", -1, &chk, NULL) != SQLITE_OK)
            return SQLITE_ERROR;
        sqlite3_bind_text(chk, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(chk, 2, schema, -1, SQLITE_STATIC);
        while (sqlite3_step(chk) == SQLITE_ROW) {
            table_found = 1;
            if (sqlite3_stricmp((const char *)sqlite3_column_text(chk, 0), col) == 0) found = 1;
        }
        sqlite3_finalize(chk);
    }
    if (!found) {
        *err = table_found ? sqlite3_mprintf("silt_join: table %s.%s has no column named %s", schema, table, col)
                           : sqlite3_mprintf("silt_join: no such table: %s.%s", schema, table);
        return SQLITE_ERROR;
    }
    collector c;
    memset(&c, 0, sizeof c);
    int rc = fast ? read_fast(db, schema, table, col, &c, err) : NOT_HERE;
    if (rc == NOT_HERE) {
        collector_free(&c);
        rc = read_sql(db, schema, table, col, &c, err);
        if (rc == SQLITE_OK && c.n > 1) qsort(c.g, c.n, sizeof *c.g, cmp_sql);
    } else if (rc == SQLITE_OK) {
        out->fast = 1;
    }
    if (rc == SQLITE_OK) rc = finish(&c, out);
    collector_free(&c);
    if (rc != SQLITE_OK) silt_join_column_free(out);
    return rc;
}
