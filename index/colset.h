/* colset.h: columns as sets of values, for joinable-table discovery (silt_join).
 *
 * A column's distinct values are kept as 64-bit hashes, so that the containment
 * |Q ∩ X| / |Q| of a query column Q in a column X is computed exactly from two sorted
 * hash arrays (a hash collision could only over-count, with probability ~n²/2⁶⁴).
 * The DeepJoin text of a column is what the encoder embeds. */
#ifndef SILT_COLSET_H
#define SILT_COLSET_H

#include <stddef.h>
#include <stdint.h>

/* Hash of a value's text form (bytes s[0..len)), as a signed 64-bit integer (SQLite's). */
int64_t silt_colset_hash(const char *s, size_t len);

/* Sorts h[0..n) and removes duplicates; returns the new count. */
size_t silt_colset_unique(int64_t *h, size_t n);

/* |a ∩ b| for two sorted, duplicate-free arrays. */
size_t silt_colset_overlap(const int64_t *a, size_t na, const int64_t *b, size_t nb);

/* DeepJoin's text for a column: "<title>. <column> contains <n> values (<max len>, <min len>,
 * <avg len>): v1, v2, ..." with values[0..n) distinct and ordered by frequency (most frequent
 * first); lengths are in bytes of the values. Values are appended while the text stays under
 * max_bytes (the encoder then cuts it to its window). Returns a malloc'd string or NULL on
 * out of memory. */
char *silt_colset_text(const char *title, const char *column, const char *const *values,
                       const size_t *lens, size_t n, size_t max_bytes);

/* ---- exact top-k overlap search (JOSIE-style) ---------------------------------------
 *
 * Finds the k columns X with the largest overlap |Q ∩ X| with a query set Q, exactly, while
 * reading as little of the lake as it can:
 *   - Q's values are taken rarest first (shortest posting list first), so that the long
 *     lists of common values come last and are often never read;
 *   - a column not seen in the first p lists can share at most |Q| - p values with Q, so
 *     once k verified columns overlap by more than that, the remaining lists are skipped
 *     (the prefix filter);
 *   - candidates are verified exactly (their whole overlap computed) when their partial
 *     counts make them promising, within a budget equal to the postings read so far, which
 *     raises the k-th best overlap early; after the lists, the candidates whose upper bound
 *     can still reach the top k are verified in order of that bound.
 * Ties are broken by the smaller column id, so the answer equals a brute-force sort by
 * (overlap desc, id asc) cut to k; columns with overlap 0 are never returned.
 *
 * The lake is read through callbacks (the SQL layer backs them with its shadow tables; the
 * unit tests with arrays). Each returns 0 or a nonzero error code that the search returns. */
typedef struct {
    void *ctx;
    /* *len = number of columns holding value h (the length of its posting list). */
    int (*list_len)(void *ctx, int64_t h, size_t *len);
    /* Sets (*ids)[0..*n) to the ids of the columns holding h. *ids is a malloc'd buffer of
     * *cap entries that the callback may grow with realloc; the search frees it. */
    int (*list)(void *ctx, int64_t h, int64_t **ids, size_t *n, size_t *cap);
    /* *n = number of distinct values of column id (may be NULL: no size bound is used). */
    int (*size)(void *ctx, int64_t id, size_t *n);
    /* *overlap = |q ∩ column id| for q[0..nq) sorted and unique; size is the column's
     * number of distinct values (or SIZE_MAX when unknown), to choose how to compute it. */
    int (*overlap)(void *ctx, int64_t id, size_t size, const int64_t *q, size_t nq, size_t *overlap);
} silt_colset_source;

typedef struct {
    int64_t id;
    size_t overlap;
} silt_colset_hit;

/* What a search read, for tests and benchmarks. */
typedef struct {
    size_t lists_read;    /* posting lists read, of nq */
    size_t postings_read; /* entries of those lists */
    size_t candidates;    /* distinct columns seen in them */
    size_t verified;      /* candidates whose exact overlap was computed through overlap() */
} silt_colset_stats;

#define SILT_COLSET_NOMEM (-1)

/* Top-k search for q[0..nq) (sorted, unique). Column `exclude` (e.g. the query column
 * itself; any id that no column has to exclude none) is never returned. On success returns
 * 0 with *hits a malloc'd array of *n_hits <= k entries, best first (free() it; NULL when
 * empty); else SILT_COLSET_NOMEM or a callback's error, with *hits NULL. stats may be NULL. */
int silt_colset_topk(const silt_colset_source *src, const int64_t *q, size_t nq, size_t k,
                     int64_t exclude, silt_colset_hit **hits, size_t *n_hits,
                     silt_colset_stats *stats);

#endif
