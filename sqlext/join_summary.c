/* join_summary.c: see join_summary.h. */
#include "sqlext/join_summary.h"

#include "core/hugepages.h"

#include <stdlib.h>
#include <string.h>

void silt_join_summary_free(silt_join_summary *s) {
    sqlite3_free(s->h);
    sqlite3_free(s->n);
    sqlite3_free(s->first);
    sqlite3_free(s->names);
    sqlite3_free(s->name_at);
    sqlite3_free(s->size);
    sqlite3_free(s->s_off);
    sqlite3_free(s->s_col);
    memset(s, 0, sizeof *s);
}

/* A search reads scattered entries of these arrays (a few hundred lookups), and on the VMs
 * this project runs on an entry whose 4 KiB page was not read recently costs several times
 * more than one on a huge page (core/hugepages.h). Arrays allocated at their final size are
 * advised before they are written; arrays grown while loading are moved once, at the end,
 * into advised memory (when memory is short or that allocation fails they stay where they
 * are). */
static void *alloc_huge(size_t bytes) {
    void *p = sqlite3_malloc64(bytes);
    silt_advise_huge(p, bytes);
    return p;
}

static void *settle_huge(void *p, size_t bytes) {
    if (!p || bytes < 2 * SILT_HUGE_PAGE || !silt_huge_move_affordable(bytes)) return p;
    void *q = alloc_huge(bytes);
    if (!q) return p;
    memcpy(q, p, bytes);
    sqlite3_free(p);
    return q;
}

static int prepare(sqlite3 *db, sqlite3_stmt **st, const char *fmt, const char *schema, const char *name) {
    char *sql = sqlite3_mprintf(fmt, schema, name);
    *st = NULL;
    if (!sql) return SQLITE_NOMEM;
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    sqlite3_free(sql);
    return rc;
}

/* <t>_df in rowid order, which is ascending h: no sort needed for the binary search. */
static int load_df(sqlite3 *db, const char *schema, const char *name, silt_join_summary *s) {
    sqlite3_stmt *st;
    int rc = prepare(db, &st, "SELECT h, n FROM \"%w\".\"%w_df\" ORDER BY h", schema, name);
    if (rc != SQLITE_OK) return rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (s->n_h == cap) {
            if (cap >= SILT_JOIN_SUMMARY_MAX_VALUES) {
                rc = SQLITE_TOOBIG;
                break;
            }
            cap = cap ? cap * 2 : 4096;
            int64_t *h = sqlite3_realloc64(s->h, cap * sizeof *h);
            if (h) s->h = h;
            uint32_t *n = sqlite3_realloc64(s->n, cap * sizeof *n);
            if (n) s->n = n;
            if (!h || !n) {
                rc = SQLITE_NOMEM;
                break;
            }
        }
        sqlite3_int64 n = sqlite3_column_int64(st, 1);
        /* As the seek reads it: a negative count is 0. A count past 32 bits (more columns
         * than the copy allows, so a damaged row) only orders the lists; it is clamped. */
        s->h[s->n_h] = sqlite3_column_int64(st, 0);
        s->n[s->n_h] = n <= 0 ? 0 : n >= (sqlite3_int64)UINT32_MAX ? UINT32_MAX : (uint32_t)n;
        s->n_h++;
    }
    sqlite3_finalize(st);
    s->h = settle_huge(s->h, s->n_h * sizeof *s->h);
    s->n = settle_huge(s->n, s->n_h * sizeof *s->n);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The bucket index over s->h (see join_summary.h). */
static uint64_t bucket_key(int64_t h) { return (uint64_t)h ^ (UINT64_C(1) << 63); } /* signed order */

static int index_buckets(silt_join_summary *s) {
    int bits = 1;
    while (bits < 24 && ((size_t)1 << bits) * 8 < s->n_h) bits++;
    size_t nb = (size_t)1 << bits;
    s->first = alloc_huge((nb + 1) * sizeof *s->first);
    if (!s->first) return SQLITE_NOMEM;
    size_t i = 0;
    for (size_t b = 0; b < nb; b++) {
        while (i < s->n_h && (bucket_key(s->h[i]) >> (64 - bits)) < b) i++;
        s->first[b] = (uint32_t)i;
    }
    s->first[nb] = (uint32_t)s->n_h;
    s->bits = bits;
    return SQLITE_OK;
}

/* The index of h in s->h, or s->n_h when absent. */
static size_t find(const silt_join_summary *s, int64_t h) {
    if (!s->first) return s->n_h;
    size_t b = (size_t)(bucket_key(h) >> (64 - s->bits)), lo = s->first[b], hi = s->first[b + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->h[mid] < h) lo = mid + 1;
        else hi = mid;
    }
    return lo < s->first[b + 1] && s->h[lo] == h ? lo : s->n_h;
}

/* Appends "tbl\0col\0" of column id to the names; 0, or SQLITE_NOMEM / SQLITE_TOOBIG. */
static int add_name(silt_join_summary *s, size_t id, const char *tbl, int tn, const char *col, int cn,
                    size_t *len, size_t *cap) {
    size_t need = *len + (size_t)tn + (size_t)cn + 2;
    if (need >= UINT32_MAX) return SQLITE_TOOBIG;
    if (need > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < need) c *= 2;
        char *g = sqlite3_realloc64(s->names, c);
        if (!g) return SQLITE_NOMEM;
        s->names = g;
        *cap = c;
    }
    s->name_at[id] = (uint32_t)*len;
    memcpy(s->names + *len, tbl, (size_t)tn);
    s->names[*len + (size_t)tn] = 0;
    memcpy(s->names + *len + (size_t)tn + 1, col, (size_t)cn);
    s->names[need - 1] = 0;
    *len = need;
    return SQLITE_OK;
}

static int load_sizes(sqlite3 *db, const char *schema, const char *name, silt_join_summary *s) {
    sqlite3_stmt *st;
    int rc = prepare(db, &st, "SELECT max(id) FROM \"%w\".\"%w_cols\"", schema, name);
    if (rc != SQLITE_OK) return rc;
    sqlite3_int64 max_id = -1;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
        max_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
    if (max_id < 0) return SQLITE_OK; /* no columns */
    if ((sqlite3_uint64)max_id >= SILT_JOIN_SUMMARY_MAX_IDS) return SQLITE_TOOBIG;
    s->n_ids = (size_t)max_id + 1;
    s->size = alloc_huge(s->n_ids * sizeof *s->size);
    s->name_at = alloc_huge(s->n_ids * sizeof *s->name_at);
    if (!s->size || !s->name_at) return SQLITE_NOMEM;
    memset(s->size, 0, s->n_ids * sizeof *s->size);
    memset(s->name_at, 0xff, s->n_ids * sizeof *s->name_at);
    rc = prepare(db, &st, "SELECT id, n_distinct, tbl, col FROM \"%w\".\"%w_cols\" WHERE id >= 0", schema, name);
    if (rc != SQLITE_OK) return rc;
    size_t len = 0, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
        if (id < 0 || (size_t)id >= s->n_ids) continue;
        /* A missing or odd count stays unknown, as rd_size reads it: no size bound. */
        if (sqlite3_column_type(st, 1) == SQLITE_INTEGER && n >= 0 && n < (sqlite3_int64)UINT32_MAX)
            s->size[id] = (uint32_t)n + 1;
        const char *t = (const char *)sqlite3_column_text(st, 2), *c = (const char *)sqlite3_column_text(st, 3);
        if (!t || !c) { /* NOT NULL columns: only out of memory gives NULL here */
            rc = SQLITE_NOMEM;
            break;
        }
        /* Names as C strings, as the seek's reader uses them (up to a NUL). */
        if ((rc = add_name(s, (size_t)id, t, (int)strlen(t), c, (int)strlen(c), &len, &cap)) != SQLITE_OK) break;
    }
    sqlite3_finalize(st);
    s->names = settle_huge(s->names, len);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The sampled postings, in key order of <t>_values(h, col_id), into lists aligned with the
 * prefix of s->h below the threshold. A posting whose value <t>_df lacks, or a list longer
 * than <t>_df says, means the two tables disagree (a damaged lake): no sample then, so that
 * searches read the table itself as before. */
static int load_sample(sqlite3 *db, const char *schema, const char *name, silt_join_summary *s) {
    size_t ns = 0;
    while (ns < s->n_h && s->h[ns] < SILT_JOIN_SAMPLE_TAU) ns++;
    size_t total = 0;
    for (size_t i = 0; i < ns; i++) total += s->n[i];
    if (total > SILT_JOIN_SAMPLE_MAX_POSTINGS) return SQLITE_OK;
    s->s_off = alloc_huge((ns + 1) * sizeof *s->s_off);
    s->s_col = alloc_huge((total ? total : 1) * sizeof *s->s_col);
    if (!s->s_off || !s->s_col) return SQLITE_NOMEM;
    sqlite3_stmt *st;
    int rc = prepare(db, &st, "SELECT h, col_id FROM \"%w\".\"%w_values\" WHERE h < ?1 ORDER BY h, col_id", schema,
                     name);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_int64(st, 1, SILT_JOIN_SAMPLE_TAU);
    size_t i = 0, n = 0; /* s->h[i] is the list being filled; n postings so far */
    int ok = 1;
    s->s_off[0] = 0;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t h = sqlite3_column_int64(st, 0);
        sqlite3_int64 id = sqlite3_column_int64(st, 1);
        while (i < ns && s->h[i] < h) s->s_off[++i] = (uint32_t)n;
        ok = i < ns && s->h[i] == h && n < total && id >= 0 && id <= (sqlite3_int64)UINT32_MAX &&
             (size_t)(n - s->s_off[i]) < s->n[i];
        if (ok) s->s_col[n++] = (uint32_t)id;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return rc;
    while (ok && i < ns) s->s_off[++i] = (uint32_t)n;
    if (!ok || n != total) { /* disagreement: keep the rest of the summary, no sample */
        sqlite3_free(s->s_off);
        sqlite3_free(s->s_col);
        s->s_off = NULL;
        s->s_col = NULL;
        return SQLITE_OK;
    }
    s->n_sampled = ns;
    s->has_sample = 1;
    return SQLITE_OK;
}

int silt_join_summary_load(sqlite3 *db, const char *schema, const char *name, silt_join_summary *s) {
    memset(s, 0, sizeof *s);
    int rc = load_df(db, schema, name, s);
    if (rc == SQLITE_OK) rc = index_buckets(s);
    if (rc == SQLITE_OK) rc = load_sizes(db, schema, name, s);
    if (rc == SQLITE_OK) rc = load_sample(db, schema, name, s);
    if (rc != SQLITE_OK) silt_join_summary_free(s);
    return rc;
}

size_t silt_join_summary_df(const silt_join_summary *s, int64_t h) {
    size_t i = find(s, h);
    return i < s->n_h ? s->n[i] : 0;
}

size_t silt_join_summary_size(const silt_join_summary *s, int64_t id) {
    if (id < 0 || (uint64_t)id >= s->n_ids || s->size[id] == 0) return SIZE_MAX;
    return (size_t)s->size[id] - 1;
}

int silt_join_summary_sample_list(const silt_join_summary *s, int64_t h, const uint32_t **ids, size_t *n) {
    if (!s->has_sample || h >= SILT_JOIN_SAMPLE_TAU) return 0;
    size_t i = find(s, h); /* the sampled values are the prefix of h below the threshold */
    *n = 0;
    *ids = s->s_col;
    if (i < s->n_sampled) {
        *ids = s->s_col + s->s_off[i];
        *n = s->s_off[i + 1] - s->s_off[i];
    }
    return 1;
}

int silt_join_summary_name(const silt_join_summary *s, int64_t id, const char **tbl, const char **col) {
    if (id < 0 || (uint64_t)id >= s->n_ids || s->name_at[id] == UINT32_MAX) return 0;
    *tbl = s->names + s->name_at[id];
    *col = *tbl + strlen(*tbl) + 1;
    return 1;
}
