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

#endif
