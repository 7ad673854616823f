/* join_summary.h: an in-memory copy of the small, hot part of a silt_join table's exact
 * layer: every value's posting list length (<t>_df), every column's number of distinct
 * values (<t>_cols.n_distinct) and names (<t>_cols.tbl, col).
 *
 * A search looks up the list length of up to 256 query values (exact = 1: all of them) and
 * the size of ~100 candidate columns. Each lookup is a B-tree seek, and on a large lake most
 * seeks miss SQLite's page cache (a few MB by default), so that these seeks were a third of
 * an equi search's time on the 100,000-column benchmark lake (bench/README.md, join). The copy
 * is 12 bytes per distinct value, 8 per column and its names, plus the sample of the posting lists
 * below (4 bytes per sampled posting and value: ~8 MB for the 100,000-column benchmark lake),
 * loaded at a table's first search and dropped as soon as the lake may have changed
 * (join_vtab.c decides when). */
#ifndef SILT_JOIN_SUMMARY_H
#define SILT_JOIN_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "sqlext/sqlite.h"

/* Lakes with more distinct values or column ids than these are not copied (their searches
 * seek, as before): the copy stays under ~200 MB. */
#define SILT_JOIN_SUMMARY_MAX_VALUES ((size_t)1 << 24)
#define SILT_JOIN_SUMMARY_MAX_IDS ((size_t)1 << 24)

/* The sample: every posting of the values whose hash lies in the lowest 1/2^SHIFT of the hash
 * space (signed order: h < SILT_JOIN_SAMPLE_TAU). A hash of the value decides, the same rule
 * for every column, so a value two columns share is sampled in both or in neither, and the
 * sampled postings are one range of <t>_values' primary key: one range scan loads them. A
 * query's sampled values are the prefix of its sorted hashes, and their lists cost no seek. */
#define SILT_JOIN_SAMPLE_SHIFT 2 /* 2 to 63: the threshold below is INT64_MIN + 2^(64 - SHIFT) */
#define SILT_JOIN_SAMPLE_TAU (INT64_MIN + (int64_t)(UINT64_C(1) << (64 - SILT_JOIN_SAMPLE_SHIFT)))
#define SILT_JOIN_SAMPLE_MAX_POSTINGS ((size_t)1 << 25)

typedef struct {
    int64_t *h;     /* distinct value hashes, ascending */
    uint32_t *n;    /* n[i]: length of h[i]'s posting list */
    size_t n_h;
    /* h[first[b] .. first[b + 1]) are the hashes whose top `bits` bits (in unsigned order)
     * are b: a lookup searches ~8 entries instead of all of h, a cache miss or two instead
     * of ~20 (hashes are uniform; a skewed lake only makes some buckets longer). */
    uint32_t *first;
    int bits;
    uint32_t *size; /* size[id]: n_distinct + 1 of column id; 0 when unknown or no such column */
    size_t n_ids;   /* size has n_ids entries (largest id + 1) */
    /* Column id's names: names + name_at[id] is "tbl\0col\0", or name_at[id] is UINT32_MAX
     * (no such column). A search reads the names of ~10-20 columns; each was a seek. */
    char *names;
    uint32_t *name_at;
    /* The sample's posting lists: h[i] (i < n_sampled, the prefix of h below the threshold)
     * is held by columns s_col[s_off[i] .. s_off[i + 1]), ascending. has_sample is 0 when the
     * lake is over SILT_JOIN_SAMPLE_MAX_POSTINGS or <t>_values disagrees with <t>_df. */
    int has_sample;
    size_t n_sampled;
    uint32_t *s_off;  /* n_sampled + 1 entries */
    uint32_t *s_col;
} silt_join_summary;

/* Loads the summary of table schema.name (which must have <name>_df). Returns SQLITE_OK,
 * SQLITE_TOOBIG when the lake exceeds the limits above (s left empty), or an error. */
int silt_join_summary_load(sqlite3 *db, const char *schema, const char *name, silt_join_summary *s);
void silt_join_summary_free(silt_join_summary *s);

/* The length of value h's posting list (0 when no column holds it). */
size_t silt_join_summary_df(const silt_join_summary *s, int64_t h);

/* Column id's number of distinct values, or SIZE_MAX when unknown. */
size_t silt_join_summary_size(const silt_join_summary *s, int64_t id);

/* Sets *tbl and *col to column id's names (valid while s is) and returns 1; 0 when there is no
 * such column. */
int silt_join_summary_name(const silt_join_summary *s, int64_t id, const char **tbl, const char **col);

/* When s has a sample and h is below its threshold, sets *ids / *n to h's whole posting list
 * (n = 0: no column holds h) and returns 1; else returns 0 (read the list from the table). */
int silt_join_summary_sample_list(const silt_join_summary *s, int64_t h, const uint32_t **ids, size_t *n);

#endif
